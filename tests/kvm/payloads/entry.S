/*
 * entry.S: the test payloads' PVH entry and AP trampoline.
 *
 * The PVH ABI (xen/include/public/arch-x86/hvm/start_info.h) enters at
 * the physical address in the XEN_ELFNOTE_PHYS32_ENTRY note, in flat
 * 32-bit protected mode with paging off and %ebx pointing at
 * hvm_start_info. We set a stack and call payload_main(start_info).
 */
	.section .note.Xen, "a"
	.balign 4
	.long 4			/* namesz: "Xen\0" */
	.long 4			/* descsz */
	.long 18		/* XEN_ELFNOTE_PHYS32_ENTRY */
	.asciz "Xen"
	.long pvh_start

	.text
	.code32
	.globl pvh_start
pvh_start:
	cli
	cld
	movl $stack_top, %esp
	pushl %ebx
	call payload_main
1:	hlt
	jmp 1b

/*
 * The AP trampoline, copied by the BSP to a page below 1 MiB and started
 * with a SIPI: real mode, CS = page >> 4, IP = 0. Position-independent:
 * it sets bit (initial APIC ID from CPUID leaf 1) in the bitmap at
 * physical 0x8100, then halts with interrupts off.
 */
	.code16
	.globl ap_trampoline, ap_trampoline_end
ap_trampoline:
	cli
	xorw %ax, %ax
	movw %ax, %ds
	movl $1, %eax
	cpuid
	shrl $24, %ebx
	lock btsl %ebx, 0x8100
2:	hlt
	jmp 2b
ap_trampoline_end:
	.code32

	.bss
	.balign 16
	.space 8192
stack_top:
	.section .note.GNU-stack, "", @progbits
