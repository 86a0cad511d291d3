/*
 * tinyml's emulator platform: QEMU mps2-an386 (Cortex-M4F). See mps2.h.
 *
 * - start-up: vector table, .data/.bss set-up, FPU on, stack painted;
 * - UART0 (CMSDK APB UART at 0x40004000) carries the protocol to the host,
 *   which QEMU exposes as a TCP port that pyserial opens as socket://;
 * - SysTick counts instructions: under `-icount shift=0` QEMU executes one
 *   instruction per nanosecond and SysTick runs at 25 MHz, so one tick is 40
 *   instructions (the resolution of this count); tinyml_mark_begin/end let
 *   tinyml's QEMU plugin (icount_plugin.c) count the same span exactly;
 * - semihosting SYS_EXIT_EXTENDED hands the exit code to QEMU; a fault prints a
 *   fault event and exits with code 3.
 */
#include <stdint.h>
#include <string.h>

#include "mps2.h"

#define REG32(addr) (*(volatile uint32_t *)(addr))

#define UART0_DATA REG32(0x40004000u)
#define UART0_STATE REG32(0x40004004u)
#define UART0_CTRL REG32(0x40004008u)
#define UART0_BAUDDIV REG32(0x40004010u)

#define SYST_CSR REG32(0xE000E010u)
#define SYST_RVR REG32(0xE000E014u)
#define SYST_CVR REG32(0xE000E018u)
#define SCB_CPACR REG32(0xE000ED88u)
#define SCB_CFSR REG32(0xE000ED28u)

#define INSTRUCTIONS_PER_TICK 40u
#define STACK_PAINT 0xA5C3A5C3u

extern uint32_t __etext, __data_start__, __data_end__, __bss_start__, __bss_end__;
extern uint32_t __StackLimit, __StackTop, __flash_end__;

static volatile uint32_t g_systick_wraps;

/* ---- semihosting --------------------------------------------------------- */

void mps2_exit(uint32_t code) {
  volatile uint32_t block[2];
  block[0] = 0x20026u; /* ADP_Stopped_ApplicationExit */
  block[1] = code;
  {
    register uint32_t r0 __asm__("r0") = 0x20u; /* SYS_EXIT_EXTENDED */
    register uint32_t r1 __asm__("r1") = (uint32_t)block;
    __asm__ volatile("bkpt 0xab" : "+r"(r0) : "r"(r1) : "memory");
  }
  for (;;) {
  }
}

/* ---- UART ---------------------------------------------------------------- */

void mps2_uart_write(const char *data, size_t n) {
  size_t i;
  for (i = 0; i < n; ++i) {
    while (UART0_STATE & 1u) {
    }
    UART0_DATA = (uint8_t)data[i];
  }
}

int mps2_uart_read(void) {
  while (!(UART0_STATE & 2u)) {
  }
  return (int)(UART0_DATA & 0xffu);
}

int mps2_uart_poll(void) { return (UART0_STATE & 2u) ? (int)(UART0_DATA & 0xffu) : -1; }

/* ---- clock --------------------------------------------------------------- */

void SysTick_Handler(void) { ++g_systick_wraps; }

uint64_t mps2_instructions(void) {
  uint32_t wraps, value;
  do {
    wraps = g_systick_wraps;
    value = SYST_CVR;
  } while (wraps != g_systick_wraps);
  return ((uint64_t)wraps * 0x1000000u + (0xFFFFFFu - value)) * INSTRUCTIONS_PER_TICK;
}

/* ---- memory facts -------------------------------------------------------- */

uint32_t mps2_flash_bytes(void) { return (uint32_t)&__flash_end__; }

uint32_t mps2_ram_bytes(void) { return (uint32_t)((uintptr_t)&__bss_end__ - (uintptr_t)&__data_start__); }

uint32_t mps2_stack_bytes(void) {
  const uint32_t *p = &__StackLimit;
  while (p < &__StackTop && *p == STACK_PAINT) ++p;
  return (uint32_t)((uintptr_t)&__StackTop - (uintptr_t)p);
}

/* ---- faults -------------------------------------------------------------- */

void (*mps2_fault_hook)(uint32_t pc, uint32_t cfsr);

static void fault_report(const uint32_t *frame) {
  if (mps2_fault_hook) mps2_fault_hook(frame[6], SCB_CFSR);
  mps2_exit(3);
}

void HardFault_Handler(void) __attribute__((naked));
void HardFault_Handler(void) {
  __asm__ volatile(
      "tst lr, #4\n"
      "ite eq\n"
      "mrseq r0, msp\n"
      "mrsne r0, psp\n"
      "b %0\n" ::"i"(fault_report));
}

/* ---- start-up ------------------------------------------------------------ */

int main(void);
extern void (*__init_array_start[])(void);
extern void (*__init_array_end[])(void);

void Reset_Handler(void) {
  uint32_t *src = &__etext, *dst;
  for (dst = &__data_start__; dst < &__data_end__;) *dst++ = *src++;
  for (dst = &__bss_start__; dst < &__bss_end__;) *dst++ = 0;
  SCB_CPACR |= 0xFu << 20; /* CP10 and CP11: the FPU */
  __asm__ volatile("dsb\n isb" ::: "memory");
  /* C++ constructors of objects with static storage (TFLM's resolver, for one). */
  for (void (**init)(void) = __init_array_start; init < __init_array_end; ++init) (*init)();
  {
    /* Paint the stack below the current frame, so stack_bytes() finds the high-water mark. */
    uint32_t *p = &__StackLimit;
    uint32_t *sp;
    __asm__ volatile("mov %0, sp" : "=r"(sp));
    while (p < sp - 16) *p++ = STACK_PAINT;
  }
  mps2_exit((uint32_t)main());
}

static void default_handler(void) { HardFault_Handler(); }

typedef void (*vector)(void);

__attribute__((section(".isr_vector"), used)) static const vector g_vectors[16] = {
    (vector)(uintptr_t)&__StackTop, Reset_Handler, default_handler, HardFault_Handler,
    default_handler, default_handler, default_handler, 0, 0, 0, 0, default_handler, default_handler, 0,
    default_handler, SysTick_Handler,
};

/* ---- init ---------------------------------------------------------------- */

void mps2_init(void) {
  UART0_BAUDDIV = 16u;
  UART0_CTRL = 3u; /* TX and RX enabled */
  SYST_RVR = 0xFFFFFFu;
  SYST_CVR = 0u;
  SYST_CSR = 7u; /* enabled, interrupting, processor clock */
  while (SYST_CVR == 0u) {
    /* the first tick loads the reload value; until then the count would read as a wrap */
  }
}
