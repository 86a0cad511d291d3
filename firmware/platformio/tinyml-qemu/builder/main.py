"""SCons build script of tinyml's emulator platform: C99 and C++ sources, arm-none-eabi-gcc, Cortex-M4F."""

from os.path import join

from SCons.Script import AlwaysBuild, Default, DefaultEnvironment

env = DefaultEnvironment()
platform = env.PioPlatform()
board = env.BoardConfig()

MACHINE = ["-mcpu=%s" % board.get("build.cpu"), "-mthumb", "-mfpu=fpv4-sp-d16", "-mfloat-abi=hard"]

env.Replace(
    AR="arm-none-eabi-ar",
    AS="arm-none-eabi-as",
    CC="arm-none-eabi-gcc",
    CXX="arm-none-eabi-g++",
    LINK="arm-none-eabi-g++",  # C++ firmware (the TFLM sketch) needs its runtime; C links the same
    OBJCOPY="arm-none-eabi-objcopy",
    RANLIB="arm-none-eabi-ranlib",
    SIZETOOL="arm-none-eabi-size",
    ARFLAGS=["rc"],
    PROGSUFFIX=".elf",
    SIZEPROGREGEXP=r"^(?:\.text|\.data|\.rodata|\.ARM\.exidx)\s+(\d+).*",
    SIZEDATAREGEXP=r"^(?:\.data|\.bss)\s+(\d+).*",
    SIZECHECKCMD="$SIZETOOL -A -d $SOURCES",
    SIZEPRINTCMD="$SIZETOOL -B -d $SOURCES",
    LDSCRIPT_PATH=join(platform.get_dir(), "ldscripts", "mps2_an386.ld"),
    PROGNAME="firmware",
)

env.Append(
    ASFLAGS=MACHINE,
    CCFLAGS=MACHINE + ["-Os", "-ffunction-sections", "-fdata-sections", "-Wall", "-ffp-contract=off"],
    CFLAGS=["-std=gnu99"],
    # The Nano 33 BLE variant's C++ dialect; no exceptions, RTTI or thread-safe statics on an MCU.
    CXXFLAGS=["-std=gnu++14", "-fno-rtti", "-fno-exceptions", "-fno-threadsafe-statics", "-fno-use-cxa-atexit"],
    LINKFLAGS=MACHINE + ["-nostartfiles", "--specs=nano.specs", "--specs=nosys.specs", "-Wl,--gc-sections"],
    LIBS=["m"],
)

program = env.BuildProgram()
AlwaysBuild(env.Alias("size", program, env.VerboseAction("$SIZEPRINTCMD", "Calculating size $SOURCE")))
Default([program])
