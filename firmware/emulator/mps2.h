/*
 * tinyml's emulator platform: QEMU mps2-an386 (Cortex-M4F). Start-up, UART0,
 * an instruction clock, semihosting exit and fault reporting, shared by the
 * model firmware (model_main.c) and the sensor streamer (streamer_main.c).
 */
#ifndef TINYML_MPS2_H_
#define TINYML_MPS2_H_

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* UART0 on, SysTick counting. Call first. */
void mps2_init(void);
void mps2_uart_write(const char *data, size_t n);
int mps2_uart_read(void); /* blocking */
int mps2_uart_poll(void); /* -1 when no byte is waiting */
/* Instructions since mps2_init, to within one SysTick tick (40 instructions under -icount shift=0). */
uint64_t mps2_instructions(void);
void mps2_exit(uint32_t code) __attribute__((noreturn));
uint32_t mps2_flash_bytes(void);
uint32_t mps2_ram_bytes(void);
uint32_t mps2_stack_bytes(void); /* high-water mark of the painted stack */
/* Called from the HardFault handler before the firmware exits with code 3. */
extern void (*mps2_fault_hook)(uint32_t pc, uint32_t cfsr);

#ifdef __cplusplus
}
#endif

#endif /* TINYML_MPS2_H_ */
