# Makefile — builds libclae (static and shared), the clae CLI and the Check test suite.
# `make`, `make test` (C and Python suites, then the C suites under ASan: SANITIZE_CHECK), `make test-suites`, `make python-test`, `make install|uninstall PREFIX=… DESTDIR=…`, `make SANITIZE=address|undefined`, `make bench [PYTHON=…]`, `make bench-scale [BENCH_SCALE_ENV=ROUNDS=5]`, `make fuzz|fuzz-smoke`.

BUILD    ?= build
PREFIX   ?= /usr/local
DESTDIR  ?=
CC       ?= cc
SANITIZE ?=
OPT      ?= -O2

SOVERSION := 0
VERSION   := $(shell sed -n 's/^\#define CLAE_VERSION_STRING "\(.*\)"/\1/p' include/clae.h)

# What libclae itself links (and clae.pc requires); the CLI adds libpng for its plots.
LIB_PKGS  := OpenCL clblast zlib nettle libcjson lapacke
CLI_PKGS  := libpng
PKG_CFLAGS := $(shell pkg-config --cflags $(LIB_PKGS) $(CLI_PKGS) 2>/dev/null)
PKG_LIBS   := $(shell pkg-config --libs $(LIB_PKGS) 2>/dev/null || echo -lOpenCL -lclblast -lz -lnettle -lcjson -llapacke)
CLI_LIBS   := $(shell pkg-config --libs $(CLI_PKGS) 2>/dev/null || echo -lpng16)
CHECK_CFLAGS := $(shell pkg-config --cflags check 2>/dev/null)
CHECK_LIBS   := $(shell pkg-config --libs check 2>/dev/null || echo -lcheck -lsubunit -lrt -lpthread -lm)

# `clae train --mpi` (tools/clae_mpi.c) is built with Open MPI where pkg-config finds it (ompi-c: Debian's
# libopenmpi-dev, which tools/install-deps.sh installs); MPI=0 builds the CLI without it. libclae never links MPI.
MPI ?= $(shell pkg-config --exists ompi-c 2>/dev/null && echo 1 || echo 0)
ifeq ($(MPI),1)
MPI_CFLAGS := -DCLAE_WITH_MPI $(shell pkg-config --cflags ompi-c)
MPI_LIBS   := $(shell pkg-config --libs ompi-c)
endif

WARN     := -Wall -Wextra -pedantic -Wshadow -Wstrict-prototypes -Wmissing-prototypes
CPPFLAGS += -Iinclude -Ilib -D_POSIX_C_SOURCE=200809L -DCL_TARGET_OPENCL_VERSION=120
CFLAGS   += -std=c11 $(OPT) -g -fPIC $(WARN) $(PKG_CFLAGS)
LDLIBS   += $(PKG_LIBS) -lm -lpthread
# The library's objects hide everything but the clae.h API (its visibility pragma), so
# libclae.so exports exactly that API; static linking (CLI, tests) still sees every symbol.
LIB_CFLAGS := -fvisibility=hidden
ifneq ($(SANITIZE),)
# -fno-sanitize-recover: a sanitizer report ends the process, so a test sees it as a failure.
CFLAGS  += -fsanitize=$(SANITIZE) -fno-sanitize-recover=all -fno-omit-frame-pointer
LDFLAGS += -fsanitize=$(SANITIZE)
endif

# The library's layers are folders (README, Layout); every object lands under $(BUILD)/lib/<layer>/.
LIB_SRC   := $(sort $(wildcard lib/*/*.c lib/*/*/*.c))
LIB_HDR   := $(sort $(wildcard lib/*/*.h lib/*/*/*.h))
# A file left flat in lib/ would build nowhere: say so instead of failing later at link time.
$(if $(wildcard lib/*.c lib/*.h),$(error $(wildcard lib/*.c lib/*.h): library files live in a layer folder under lib/ (README, Layout)))
LIB_OBJ   := $(patsubst lib/%.c,$(BUILD)/lib/%.o,$(LIB_SRC)) $(BUILD)/lib/kernels.o
CL_SRC    := $(sort $(wildcard cl/*.cl cl/*.h))
CLI_SRC   := $(sort $(wildcard tools/clae*.c))
CLI_OBJ   := $(patsubst tools/%.c,$(BUILD)/tools/%.o,$(CLI_SRC))
TEST_SRC  := $(sort $(wildcard tests/*.c))
TEST_OBJ  := $(patsubst tests/%.c,$(BUILD)/tests/%.o,$(TEST_SRC))
BENCH_SRC := $(sort $(wildcard tools/bench_*.c))

STATIC := $(BUILD)/libclae.a
SHARED := $(BUILD)/libclae.so.$(SOVERSION)
CLI    := $(BUILD)/clae
TESTS  := $(BUILD)/test_clae

.PHONY: all test test-suites python-test clean install uninstall bench bench-scale check-deps bench-gemm check-exports check-install check-runner check-example fuzz fuzz-smoke fuzz-build
all: $(STATIC) $(SHARED) $(BUILD)/libclae.so $(CLI) $(BUILD)/clae.pc $(BUILD)/example_interop

# Rebuild everything when the flags change (e.g. SANITIZE on/off).
FLAGS_LINE := $(CC) $(CPPFLAGS) $(CFLAGS) $(LIB_CFLAGS) $(LDFLAGS) $(LDLIBS) $(CLI_LIBS) MPI=$(MPI)
$(BUILD)/.flags: FORCE
	@mkdir -p $(BUILD)
	@echo '$(FLAGS_LINE)' | cmp -s - $@ || echo '$(FLAGS_LINE)' > $@
FORCE:

$(BUILD)/embed_kernels: tools/embed_kernels.c
	@mkdir -p $(BUILD)
	$(CC) -std=c11 -O1 -Wall -Wextra -pedantic -o $@ $<

# Kernel sources are embedded into the library by a generated C file (never committed).
$(BUILD)/kernels.c: $(CL_SRC) $(BUILD)/embed_kernels
	$(BUILD)/embed_kernels $(CL_SRC) > $@.tmp && mv $@.tmp $@

$(BUILD)/lib/kernels.o: $(BUILD)/kernels.c lib/runtime/runtime.h $(BUILD)/.flags
	@mkdir -p $(dir $@)
	$(CC) $(CPPFLAGS) $(CFLAGS) $(LIB_CFLAGS) -Wno-overlength-strings -c -o $@ $<

$(BUILD)/lib/%.o: lib/%.c $(LIB_HDR) include/clae.h $(BUILD)/.flags
	@mkdir -p $(dir $@)
	$(CC) $(CPPFLAGS) $(CFLAGS) $(LIB_CFLAGS) -c -o $@ $<

# Help texts are single string literals longer than C99's 4095-character minimum;
# every compiler we build with takes them, so that one pedantic warning is off.
$(BUILD)/tools/%.o: tools/%.c $(wildcard tools/*.h) include/clae.h $(BUILD)/.flags
	@mkdir -p $(dir $@)
	$(CC) $(CPPFLAGS) $(CFLAGS) -Wno-overlength-strings -c -o $@ $<

$(BUILD)/tests/%.o: tests/%.c $(wildcard tests/*.h) $(LIB_HDR) include/clae.h $(BUILD)/.flags
	@mkdir -p $(dir $@)
	$(CC) $(CPPFLAGS) $(CFLAGS) $(CHECK_CFLAGS) -c -o $@ $<

$(STATIC): $(LIB_OBJ)
	rm -f $@
	ar rcs $@ $^

# --no-undefined: the shared library names every library it needs (clae.pc lists the same).
$(SHARED): $(LIB_OBJ)
	$(CC) -shared -Wl,-soname,libclae.so.$(SOVERSION) -Wl,--no-undefined $(LDFLAGS) -o $@ $^ $(LDLIBS)

$(BUILD)/libclae.so: $(SHARED)
	ln -sf libclae.so.$(SOVERSION) $@

# An application sharing its OpenCL context, queue, buffers and kernels with clae (clae_runtime_wrap): built
# with `make`, run by `make test`.
$(BUILD)/example_interop: tools/example_interop.c $(STATIC) include/clae.h $(BUILD)/.flags
	$(CC) $(CPPFLAGS) $(CFLAGS) $(LDFLAGS) -o $@ $< $(STATIC) $(LDLIBS)

$(CLI): $(CLI_OBJ) $(STATIC)
	$(CC) $(LDFLAGS) -o $@ $(CLI_OBJ) $(STATIC) $(LDLIBS) $(CLI_LIBS) $(MPI_LIBS)

$(BUILD)/tools/clae_mpi.o: CPPFLAGS += $(MPI_CFLAGS)

$(TESTS): $(TEST_OBJ) $(STATIC)
	$(CC) $(LDFLAGS) -o $@ $(TEST_OBJ) $(STATIC) $(LDLIBS) $(CLI_LIBS) $(CHECK_LIBS)

# Written at every build so the installed file always names the PREFIX of that build.
$(BUILD)/clae.pc: FORCE
	@mkdir -p $(BUILD)
	@printf 'prefix=%s\nlibdir=$${prefix}/lib\nincludedir=$${prefix}/include\n\nName: clae\nDescription: Portable OpenCL autoencoder backend\nVersion: %s\nRequires.private: $(LIB_PKGS)\nLibs: -L$${libdir} -lclae\nLibs.private: -lm -lpthread\nCflags: -I$${includedir}\n' '$(PREFIX)' '$(VERSION)' > $@.tmp
	@cmp -s $@.tmp $@ && rm -f $@.tmp || mv $@.tmp $@

# The suite runs on PoCL and cpu-ref; CLAE_CACHE_DIR keeps its program cache inside the build tree.
# The packaging checks run first: they take a second.
# The model-level suites run first with CLAE_PLAN=poison (every transient tensor is filled with
# NaN after its last planned use), so a wrong lifetime fails loudly; then the whole suite as usual.
# PoCL's own kernel cache is not safe for processes that build at the same time (pocl/pocl#1480: crashes
# with a cold cache), so each build tree's test runs get their own unless POCL_CACHE_DIR is set.
POISON_SUITES := plan model variants modelio golden trainer cli_arch layers
# Under SANITIZE the leak checker skips only the OpenCL driver stack's own allocations (tests/lsan.supp), and
# ASan keeps off the threads' alternate signal stacks: PoCL's LLVM installs its own, which ASan would otherwise
# try to unmap at thread exit and abort ("failed to deallocate", llvm/llvm-project#179000).
TEST_ENV = ASAN_OPTIONS=use_sigaltstack=0 LSAN_OPTIONS=suppressions=$(abspath tests/lsan.supp):print_suppressions=0 UBSAN_OPTIONS=print_stacktrace=1 POCL_CACHE_DIR=$${POCL_CACHE_DIR:-$(abspath $(BUILD))/pocl-cache} CLAE_CACHE_DIR=$(abspath $(BUILD))/test-cache CLAE_BUILD=$(BUILD)
test: $(TESTS) $(CLI) $(SHARED) check-exports check-install check-runner check-example
	@$(MAKE) --no-print-directory test-suites
ifeq ($(SANITIZE),)
	@$(PYTHON_TEST_RUN)
	@$(MAKE) --no-print-directory fuzz-smoke
	@$(SANITIZE_CHECK_RUN)
else
	@echo 'SANITIZE=$(SANITIZE): python tests and fuzz-smoke skipped (python would need the sanitizer runtime preloaded; the fuzz harnesses carry their own sanitizers)'
endif

# The Check suites alone: the poison pass of the model-level suites, then every suite.
test-suites: $(TESTS) $(CLI)
	@for s in $(POISON_SUITES); do echo "CLAE_PLAN=poison: suite $$s"; \
		CLAE_PLAN=poison $(TEST_ENV) ./$(TESTS) $$s || exit 1; done
	$(TEST_ENV) ./$(TESTS)

# The end of a plain `make test` (and so of CI): the Check suites again, built with SANITIZE_CHECK (address:
# ASan + LeakSanitizer) into $(BUILD)-$(SANITIZE_CHECK), on all cores, sharing the plain run's warm PoCL cache
# (the runs are one after the other). `make test SANITIZE_CHECK=` skips it for a quick local run.
SANITIZE_CHECK ?= address
SANITIZE_CHECK_RUN = if [ -n '$(SANITIZE_CHECK)' ]; then \
		echo 'SANITIZE_CHECK=$(SANITIZE_CHECK): the Check suites again under -fsanitize=$(SANITIZE_CHECK) in $(BUILD)-$(SANITIZE_CHECK)'; \
		POCL_CACHE_DIR=$${POCL_CACHE_DIR:-$(abspath $(BUILD))/pocl-cache} $(MAKE) --no-print-directory \
			-j$$(nproc 2>/dev/null || echo 2) BUILD=$(BUILD)-$(SANITIZE_CHECK) SANITIZE=$(SANITIZE_CHECK) test-suites; \
	else echo 'SANITIZE_CHECK is empty: the sanitizer pass is skipped'; fi

# The Python package's tests (tools/python/tests), against the libclae.so.0 just built (CLAE_LIBRARY)
# and with the C suite's caches; skipped, saying so, when PYTHON_TEST cannot import numpy and pytest.
# PYTHON_TEST is Debian's /usr/bin/python3 where it exists, because tools/install-deps.sh installs
# numpy and pytest as its packages (python3-numpy, python3-pytest), and a python3 found first on PATH
# (pyenv, a virtual environment) need not have them; elsewhere python3. Point it at another
# interpreter with `make test PYTHON_TEST=venv/bin/python`. No bytecode or pytest cache is written
# into the tree: the standalone suite reads tools/, and a .pyc records its source's absolute path.
PYTHON_TEST ?= $(if $(wildcard /usr/bin/python3),/usr/bin/python3,python3)
PYTHON_TEST_RUN = if $(PYTHON_TEST) -c 'import numpy, pytest' >/dev/null 2>&1; then \
		echo '$(PYTHON_TEST) -m pytest -q tools/python/tests'; \
		$(TEST_ENV) CLAE_LIBRARY=$(abspath $(SHARED)) PYTHONDONTWRITEBYTECODE=1 \
			$(PYTHON_TEST) -m pytest -q -p no:cacheprovider tools/python/tests; \
	else echo 'python tests skipped: numpy/pytest not importable by $(PYTHON_TEST) (tools/install-deps.sh installs them)'; fi

# `make python-test`: the Python tests alone (after `make`).
python-test: $(SHARED) $(CLI)
	@$(PYTHON_TEST_RUN)

# The interop example trains on its own buffer and must see the loss fall.
check-example: $(BUILD)/example_interop
	$(TEST_ENV) ./$(BUILD)/example_interop

# A suite or test case name that matches nothing fails (listing the suites) instead of passing 0 checks.
check-runner: $(TESTS)
	@if ./$(TESTS) no_such_suite > $(BUILD)/check-runner.out 2>&1; then \
		echo 'check-runner: test_clae passed with an unknown suite' >&2; exit 1; fi
	@grep -q 'suites: runtime ops' $(BUILD)/check-runner.out || { cat $(BUILD)/check-runner.out >&2; exit 1; }
	@if ./$(TESTS) model no_such_case > $(BUILD)/check-runner.out 2>&1; then \
		echo 'check-runner: test_clae passed with an unknown test case' >&2; exit 1; fi
	@grep -q "has no test case 'no_such_case'" $(BUILD)/check-runner.out || { cat $(BUILD)/check-runner.out >&2; exit 1; }
	@rm -f $(BUILD)/check-runner.out
	@echo 'check-runner: unknown suites and test cases fail'

# libclae.so exports exactly the functions include/clae.h declares (hidden visibility otherwise).
check-exports: $(SHARED)
	tests/check_exports.sh $(SHARED) include/clae.h "$(CC)"

# A DESTDIR install puts its files in place and `make uninstall` removes every one of them.
# LDFLAGS: a sanitized libclae.so runs only in a program linked with the sanitizer too.
check-install: all
	tests/check_install.sh "$(MAKE)" $(BUILD) $(abspath $(BUILD))/install-check $(PREFIX) "$(CC) $(LDFLAGS)"

# `make bench-gemm`: clae's OpenCL GEMM engines (tiled, clblast) against OpenBLAS cblas_sgemm on
# the host, in a peer process at one thread, in interleaved rounds (BENCH_GEMM_ARGS: e.g. --rounds 3
# --set wide). OpenBLAS is the benchmark's peer only, never a dependency of the library: without
# Debian's libopenblas-dev the table has no peer column and says so.
BENCH_GEMM_ARGS ?=
BLAS_CFLAGS = $(shell pkg-config --cflags openblas 2>/dev/null)
BLAS_LIBS   = $(shell pkg-config --libs openblas 2>/dev/null)
# Rebuild the benchmark when OpenBLAS appears or goes (the .flags idea, for the peer alone).
$(BUILD)/.bench-flags: FORCE
	@mkdir -p $(BUILD)
	@echo '$(BLAS_CFLAGS) $(BLAS_LIBS)' | cmp -s - $@ || echo '$(BLAS_CFLAGS) $(BLAS_LIBS)' > $@

$(BUILD)/bench_gemm: tools/bench_gemm.c $(STATIC) $(LIB_HDR) include/clae.h $(BUILD)/.flags $(BUILD)/.bench-flags
	$(CC) $(CPPFLAGS) $(CFLAGS) $(if $(BLAS_LIBS),-DCLAE_BENCH_OPENBLAS $(BLAS_CFLAGS)) $(LDFLAGS) -o $@ $< \
		$(STATIC) $(LDLIBS) $(BLAS_LIBS)

# The FMA peak of the machine that runs it (so built for it: -march=native), the yardstick of bench_torch.py's
# "% of peak" columns.
$(BUILD)/bench_peak: tools/bench_peak.c
	@mkdir -p $(BUILD)
	$(CC) -std=c11 -D_POSIX_C_SOURCE=200809L -O3 -march=native -Wall -Wextra -pedantic -o $@ $< -lpthread

bench-gemm: $(BUILD)/bench_gemm
	@$(if $(BLAS_LIBS),:,echo 'bench-gemm: OpenBLAS not found, so no peer column; for one: apt-get install -y libopenblas-dev')
	./$(BUILD)/bench_gemm $(BENCH_GEMM_ARGS)

install: all
	install -d $(DESTDIR)$(PREFIX)/include $(DESTDIR)$(PREFIX)/lib $(DESTDIR)$(PREFIX)/bin $(DESTDIR)$(PREFIX)/lib/pkgconfig
	install -m 644 include/clae.h $(DESTDIR)$(PREFIX)/include/
	install -m 644 $(STATIC) $(DESTDIR)$(PREFIX)/lib/
	install -m 755 $(SHARED) $(DESTDIR)$(PREFIX)/lib/
	ln -sf libclae.so.$(SOVERSION) $(DESTDIR)$(PREFIX)/lib/libclae.so
	install -m 755 $(CLI) $(DESTDIR)$(PREFIX)/bin/
	install -m 644 $(BUILD)/clae.pc $(DESTDIR)$(PREFIX)/lib/pkgconfig/

# Removes what install put there, file by file; the directories stay (they may be shared).
uninstall:
	rm -f $(DESTDIR)$(PREFIX)/include/clae.h $(DESTDIR)$(PREFIX)/lib/libclae.a \
		$(DESTDIR)$(PREFIX)/lib/libclae.so.$(SOVERSION) $(DESTDIR)$(PREFIX)/lib/libclae.so \
		$(DESTDIR)$(PREFIX)/bin/clae $(DESTDIR)$(PREFIX)/lib/pkgconfig/clae.pc

clean:
	rm -rf $(BUILD) $(BUILD)-$(SANITIZE_CHECK)

# `make bench`: samples/s of the standard workloads (clae bench) on the default device, then the
# tables against PyTorch on the CPU (training, inference, the conv AE: they say so and stop without
# an importable torch, so point PYTHON at a venv that has it: make bench PYTHON=venv/bin/python;
# BENCH_TORCH_ARGS: e.g. --rounds 5 --cases train), then the GEMM table against OpenBLAS when installed.
PYTHON ?= python3
BENCH_TORCH_ARGS ?=
bench: $(CLI) $(BUILD)/bench_peak
	./$(BUILD)/bench_peak
	./$(CLI) bench
	$(PYTHON) tools/bench_torch.py --clae ./$(CLI) --peak ./$(BUILD)/bench_peak $(BENCH_TORCH_ARGS)
	$(PYTHON) tools/bench_torch_conv.py --clae ./$(CLI)
	@$(if $(BLAS_LIBS),$(MAKE) --no-print-directory bench-gemm,echo 'bench: OpenBLAS not found, so no GEMM table; for one: apt-get install -y libopenblas-dev')

# `make bench-scale`: data-parallel scaling (tools/bench_scale.sh): one process against mpirun -np 2 --mpi and one
# device against --devices X,X, on cpu-ref and on PoCL, in interleaved rounds; BENCH_SCALE_ENV: e.g. ROUNDS=5.
BENCH_SCALE_ENV ?=
bench-scale: $(CLI)
	$(BENCH_SCALE_ENV) BUILD=$(BUILD) bash tools/bench_scale.sh

# `make fuzz`: libFuzzer harnesses (tests/fuzz/) for every reader of bytes from outside: safetensors,
# IDX (plain, and behind gzip), CSV, NPY and the program-cache entry. Built by clang into FUZZ_BUILD
# (never BUILD: the objects carry ASan, UBSan and the fuzzer's coverage hooks), each run in turn for
# FUZZ_RUNS executions, FUZZ_TIMEOUT seconds per input at most; `make fuzz-smoke` is CI's short run.
# The readers need no device, but the library's objects still link OpenCL and the rest (LDLIBS).
FUZZ_CC      ?= clang
FUZZ_BUILD   ?= build-fuzz
FUZZ_RUNS    ?= 1000000
FUZZ_TIMEOUT ?= 10
FUZZ_TARGETS := safetensors idx idx_gz csv npy cache
# The readers and what they call; an archive, so each harness links only the objects it uses.
FUZZ_LIB_SRC := $(sort $(wildcard lib/io/*.c)) lib/runtime/error.c lib/runtime/cache.c lib/runtime/philox.c
FUZZ_LIB_OBJ := $(patsubst lib/%.c,$(FUZZ_BUILD)/lib/%.o,$(FUZZ_LIB_SRC))
# -fno-sanitize-recover: UBSan's finding must stop the run, or libFuzzer would never report it.
FUZZ_SAN     := -fsanitize=address,undefined -fno-sanitize-recover=all -fno-omit-frame-pointer
FUZZ_CFLAGS  := -std=c11 -O1 -g $(WARN) $(PKG_CFLAGS) $(FUZZ_SAN)
FUZZ_BINS    := $(patsubst %,$(FUZZ_BUILD)/fuzz_%,$(FUZZ_TARGETS))

$(FUZZ_BUILD)/lib/%.o: lib/%.c $(LIB_HDR) include/clae.h
	@mkdir -p $(dir $@)
	$(FUZZ_CC) $(CPPFLAGS) $(FUZZ_CFLAGS) -fsanitize=fuzzer-no-link -c -o $@ $<

$(FUZZ_BUILD)/libclae-fuzz.a: $(FUZZ_LIB_OBJ)
	rm -f $@
	ar rcs $@ $^

$(FUZZ_BUILD)/fuzz_%: tests/fuzz/fuzz_%.c tests/fuzz/fuzz_common.h $(FUZZ_BUILD)/libclae-fuzz.a
	$(FUZZ_CC) $(CPPFLAGS) $(FUZZ_CFLAGS) -fsanitize=fuzzer -o $@ $< $(FUZZ_BUILD)/libclae-fuzz.a $(LDLIBS)

fuzz-build: $(FUZZ_BINS)

# Without clang (or its libFuzzer) there is nothing to build: say so and succeed, so a machine
# without it can still run every other target.
fuzz:
	@if ! command -v $(FUZZ_CC) >/dev/null 2>&1; then \
		echo 'fuzz: $(FUZZ_CC) not found, so no fuzzing (apt-get install -y clang)'; exit 0; fi; \
	if ! printf 'int LLVMFuzzerTestOneInput(const char *d, long n) { return d && n < 0; }\n' | \
		$(FUZZ_CC) -x c -fsanitize=fuzzer -o /dev/null - >/dev/null 2>&1; then \
		echo 'fuzz: $(FUZZ_CC) cannot link libFuzzer (-fsanitize=fuzzer), so no fuzzing'; exit 0; fi; \
	$(MAKE) --no-print-directory fuzz-build && \
		tests/fuzz/run.sh $(FUZZ_BUILD) $(FUZZ_RUNS) $(FUZZ_TIMEOUT) $(FUZZ_TARGETS)

fuzz-smoke:
	@$(MAKE) --no-print-directory fuzz FUZZ_RUNS=20000
