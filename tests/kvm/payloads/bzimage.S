/*
 * bzimage.S: a tiny bzImage for the KVM tests of the Linux x86 boot
 * protocol path (Documentation/arch/x86/boot.rst). One setup sector with
 * the setup header, then the "protected-mode kernel", loaded at 1 MiB:
 *   +0x000  32-bit entry (code32_start): %esi = boot_params
 *   +0x200  64-bit entry (XLF_KERNEL_64): %rsi = boot_params
 * Each prints which entry ran and the command line (boot_params.hdr.
 * cmd_line_ptr, offset 0x228) on COM1, then resets through the i8042.
 * Linked flat (objcopy -O binary); offsets are file offsets.
 */
	.code16
	.section .text
	.globl _start
_start:
	.org 0x1f1
setup_sects:	.byte 1			/* 1 setup sector after the boot sector */
root_flags:	.word 0
syssize:	.long 0x10		/* 16-byte paragraphs of kernel */
ram_size:	.word 0
vid_mode:	.word 0xffff
root_dev:	.word 0
boot_flag:	.word 0xaa55
jump:		.byte 0xeb, hdr_end - header	/* the header ends here */
header:		.ascii "HdrS"
version:	.word 0x020f
realmode_swtch:	.long 0
start_sys_seg:	.word 0
kernel_version:	.word 0
type_of_loader:	.byte 0
loadflags:	.byte 0x01		/* LOADED_HIGH */
setup_move_size: .word 0
code32_start:	.long 0x100000
ramdisk_image:	.long 0
ramdisk_size:	.long 0
bootsect_kludge: .long 0
heap_end_ptr:	.word 0
ext_loader_ver:	.byte 0
ext_loader_type: .byte 0
cmd_line_ptr:	.long 0
initrd_addr_max: .long 0x7fffffff
kernel_alignment: .long 0x200000
relocatable_kernel: .byte 0
min_alignment:	.byte 0
xloadflags:	.word 0x0001		/* XLF_KERNEL_64 */
cmdline_size:	.long 255
hardware_subarch: .long 0
hardware_subarch_data: .quad 0
payload_offset:	.long 0
payload_length:	.long 0
setup_data:	.quad 0
pref_address:	.quad 0x100000
init_size:	.long 0x1000
handover_offset: .long 0
kernel_info_offset: .long 0
hdr_end:
	.org 0x400			/* (setup_sects + 1) * 512 */

/* ---- the protected-mode kernel, at 1 MiB -------------------------------- */
kernel:
	.code32
entry32:
	cli
	movl $0x100000 + (msg32 - kernel), %ebx
	call puts32
	movl 0x228(%esi), %ebx		/* boot_params.hdr.cmd_line_ptr */
	call puts32
	movl $0x100000 + (nl - kernel), %ebx
	call puts32
	movb $0xfe, %al
	outb %al, $0x64
1:	hlt
	jmp 1b

/* Print the NUL-terminated string at %ebx. */
puts32:
	movw $0x3f8, %dx
2:	movb (%ebx), %al
	testb %al, %al
	jz 3f
	outb %al, %dx
	incl %ebx
	jmp 2b
3:	ret

	.org kernel + 0x200
	.code64
entry64:
	cli
	leaq msg64(%rip), %rbx
	call puts64
	movl 0x228(%rsi), %ebx
	call puts64
	leaq nl(%rip), %rbx
	call puts64
	movb $0xfe, %al
	outb %al, $0x64
4:	hlt
	jmp 4b

puts64:
	movw $0x3f8, %dx
5:	movb (%rbx), %al
	testb %al, %al
	jz 6f
	outb %al, %dx
	incq %rbx
	jmp 5b
6:	ret

msg32:	.asciz "hello from bzimage 32-bit entry, cmdline: "
msg64:	.asciz "hello from bzimage 64-bit entry, cmdline: "
nl:	.asciz "\n"
	.balign 16
	.section .note.GNU-stack, "", @progbits
