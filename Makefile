# baton — GNU make. `make` builds build/baton and build/toml-decoder.
# `make test` installs missing Debian packages, builds, and runs unit, TOML conformance and e2e
# tests. `make asan` does the same under ASan+UBSan. `make fuzz` runs libFuzzer targets.

BUILD ?= build
CC ?= cc
OPT ?= -O2
CFLAGS ?= -g $(OPT)
SAN ?=
WARN := -Wall -Wextra -Wshadow -Wstrict-prototypes -Wmissing-prototypes -Wformat=2
ifneq ($(WERROR),)
WARN += -Werror
endif
ifeq ($(CI),true)
WARN += -Werror
endif
ALL_CFLAGS := -std=c11 -D_GNU_SOURCE $(WARN) -Isrc -MMD -MP $(SAN) $(CFLAGS)
# baton links no library beyond libc: the certificate checker dlopen()s libcrypto when it first
# runs (src/tls/ossl.c; dlopen is in libc since glibc 2.34). Only test_certcheck links libcrypto, for
# an OpenSSL call of its own (the checker then finds the library already loaded).
LDLIBS :=
FUZZ_TIME ?= 60

SRC := $(sort $(shell find src -name '*.c'))
LIBSRC := $(filter-out src/main.c,$(SRC))
LIBOBJ := $(patsubst %.c,$(BUILD)/%.o,$(LIBSRC))
UNIT_SRC := $(sort $(wildcard tests/unit/test_*.c))
UNIT_BIN := $(patsubst tests/unit/%.c,$(BUILD)/unit/%,$(UNIT_SRC))
HELPER_SRC := $(sort $(wildcard tests/helpers/*.c))
HELPER_BIN := $(patsubst tests/helpers/%.c,$(BUILD)/helpers/%,$(HELPER_SRC))
FUZZ_SRC := $(sort $(wildcard fuzz/fuzz_*.c))

.PHONY: all test test-run deps-check asan fuzz demo bench format format-check clean deps-build unit helpers
.PHONY: install uninstall

all: deps-build $(BUILD)/baton $(BUILD)/toml-decoder

deps-build:
	@scripts/deps.sh build

$(BUILD)/libbaton.a: $(LIBOBJ)
	@rm -f $@
	ar rcs $@ $^

$(BUILD)/baton: $(BUILD)/src/main.o $(BUILD)/libbaton.a
	$(CC) $(SAN) $(CFLAGS) -o $@ $^ $(LDLIBS)

$(BUILD)/toml-decoder: $(BUILD)/tools/toml-decoder.o $(BUILD)/libbaton.a
	$(CC) $(SAN) $(CFLAGS) -o $@ $^ $(LDLIBS)

$(BUILD)/%.o: %.c
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) -c -o $@ $<

$(BUILD)/unit/%: tests/unit/%.c $(BUILD)/libbaton.a
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) -Itests/unit -o $@ $< $(BUILD)/libbaton.a -lcmocka $(UNIT_LDLIBS)
$(BUILD)/unit/test_certcheck: UNIT_LDLIBS := -lcrypto
$(BUILD)/unit/test_tlsfront: UNIT_LDLIBS := -lssl -lcrypto


$(BUILD)/helpers/%: tests/helpers/%.c
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) -o $@ $<

unit: $(UNIT_BIN)
helpers: $(HELPER_BIN)

test:
	@scripts/deps.sh test
	@$(MAKE) --no-print-directory deps-check
	@$(MAKE) --no-print-directory test-run

# every include between src/ folders follows the layering in docs/design.md ("## Layout")
deps-check:
	@python3 scripts/deps-check.py

test-run: $(BUILD)/baton $(BUILD)/toml-decoder $(UNIT_BIN) $(HELPER_BIN)
	@scripts/test.sh $(BUILD)

asan:
	@scripts/deps.sh test
	@$(MAKE) --no-print-directory test-run BUILD=build-asan CC=clang OPT=-O1 \
		SAN="-fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=undefined"

FUZZ_FLAGS := -std=c11 -D_GNU_SOURCE -Isrc -g -O1 -fsanitize=fuzzer,address,undefined \
	-fno-sanitize-recover=undefined
build-fuzz/%: fuzz/%.c $(LIBSRC)
	@mkdir -p build-fuzz
	clang $(FUZZ_FLAGS) -o $@ $< $(filter-out src/cmd/%,$(LIBSRC)) $(LDLIBS)

fuzz:
	@scripts/deps.sh test
	@$(MAKE) --no-print-directory $(patsubst fuzz/%.c,build-fuzz/%,$(FUZZ_SRC))
	@scripts/fuzz.sh $(FUZZ_TIME) $(patsubst fuzz/%.c,%,$(FUZZ_SRC))

demo: all
	@scripts/deps.sh demo
	@scripts/demo.sh $(BUILD)

bench: all
	@scripts/deps.sh bench
	@bench/run-all.sh

# redraw docs/img/*.png and the Plots section of docs/benchmarks.md from bench/results/ (no run)
.PHONY: bench-plots
bench-plots:
	@command -v gnuplot >/dev/null || scripts/deps.sh bench
	@bench/plots.sh

format:
	clang-format -i $(SRC) $(wildcard src/*.h src/*/*.h tests/unit/*.c tests/helpers/*.c tools/*.c fuzz/*.c)

format-check:
	clang-format --dry-run --Werror $(SRC) $(wildcard src/*.h src/*/*.h)

# `make install [PREFIX=/usr/local] [DESTDIR=]`: the binary, baton(1), baton.toml(5), bash and zsh
# completions. `make uninstall` with the same PREFIX and DESTDIR removes exactly those files
# (directories are left: they may be shared). Debian's zsh reads /usr/share/zsh/vendor-completions;
# debian/rules sets ZSH_COMPDIR to it.
PREFIX ?= /usr/local
BINDIR ?= $(PREFIX)/bin
MANDIR ?= $(PREFIX)/share/man
BASH_COMPDIR ?= $(PREFIX)/share/bash-completion/completions
ZSH_COMPDIR ?= $(PREFIX)/share/zsh/site-functions
INSTALL ?= install

install: $(BUILD)/baton
	$(INSTALL) -d $(DESTDIR)$(BINDIR) $(DESTDIR)$(MANDIR)/man1 $(DESTDIR)$(MANDIR)/man5 \
		$(DESTDIR)$(BASH_COMPDIR) $(DESTDIR)$(ZSH_COMPDIR)
	$(INSTALL) -m 0755 $(BUILD)/baton $(DESTDIR)$(BINDIR)/baton
	$(INSTALL) -m 0644 man/baton.1 $(DESTDIR)$(MANDIR)/man1/baton.1
	$(INSTALL) -m 0644 man/baton.toml.5 $(DESTDIR)$(MANDIR)/man5/baton.toml.5
	$(INSTALL) -m 0644 completions/baton.bash $(DESTDIR)$(BASH_COMPDIR)/baton
	$(INSTALL) -m 0644 completions/_baton $(DESTDIR)$(ZSH_COMPDIR)/_baton

uninstall:
	rm -f $(DESTDIR)$(BINDIR)/baton $(DESTDIR)$(MANDIR)/man1/baton.1 \
		$(DESTDIR)$(MANDIR)/man5/baton.toml.5 $(DESTDIR)$(BASH_COMPDIR)/baton \
		$(DESTDIR)$(ZSH_COMPDIR)/_baton

clean:
	rm -rf build build-asan build-fuzz

-include $(shell find $(BUILD) -name '*.d' 2>/dev/null)
