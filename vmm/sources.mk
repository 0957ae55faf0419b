# drover-vmm: one line per object. Included by the top-level Makefile,
# which defines $(O), $(BIN), $(TEST_BIN), $(LIB_OBJ), objs(), CC/CFLAGS.
VMM_SRC += vmm/main.c
VMM_SRC += common/libver_vmm.c

# Tests owned by the VMM: names of programs built from tests/kvm/NAME.c
# (KVM_TESTS += kvm_NAME) or tests/unit/NAME.c (UNIT_TESTS += unit_NAME),
# libFuzzer targets (FUZZ_TARGETS += fuzz_NAME, with a rule building
# $(BUILD)/fuzz/fuzz_NAME), and other files the tests need (TEST_EXTRA).
