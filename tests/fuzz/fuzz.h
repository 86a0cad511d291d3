/*
 * tinyml's device-parser fuzz harnesses, built for the host under AddressSanitizer and
 * UBSan (tests/fuzz/campaign.py). Each harness defines one session: a device parser
 * reading the host's bytes from stdin and answering on stdout, as on the UART.
 * driver.c runs it once on stdin, or once per case file, each in a fresh process.
 */
#ifndef TINYML_FUZZ_H_
#define TINYML_FUZZ_H_

/* One session: returns the exit code (0 when the parser survived the input). */
int fuzz_session(void);

#endif /* TINYML_FUZZ_H_ */
