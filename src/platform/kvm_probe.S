/* The KVM probe guest: one boot sector that does what every real x86-64 guest does early
 * (leave real mode for long mode with 4-level paging, load a GDT and an IDT, take timer
 * interrupts through the legacy PIC and PIT) and then exits through isa-debug-exit with
 * status 99. A /dev/kvm that runs only a toy (PVM, broken nested setups) hangs or dies on
 * this where a 16-bit loop still passes. Loaded by the BIOS at 0x7c00; the code refers to
 * itself as (label - kiln_kvm_probe + 0x7c00). Memory it uses: 0x1000 PML4, 0x2000 PDPT,
 * 0x3000 PD (one 2 MiB identity page), 0x4000 IDT, 0x5000 tick counter, 0x9000 stack. */
#define AT(label) ((label) - kiln_kvm_probe + 0x7c00)

    .section .rodata.kiln_kvm_probe, "a"
    .globl kiln_kvm_probe
    .globl kiln_kvm_probe_end
    .code16
kiln_kvm_probe:
    cli
    xorw %ax, %ax
    movw %ax, %ds
    movw %ax, %es
    movw %ax, %ss
    movw $0x7c00, %sp
    movw $0x1000, %di          /* zero 0x1000..0x5fff */
    movw $0x2800, %cx
    rep stosw
    movw $0x2003, 0x1000       /* PML4[0] -> PDPT */
    movw $0x3003, 0x2000       /* PDPT[0] -> PD */
    movw $0x0083, 0x3000       /* PD[0]: 2 MiB page at 0, present, writable */
    movl $0xa0, %eax           /* CR4: PAE | PGE */
    movl %eax, %cr4
    movl $0x1000, %eax
    movl %eax, %cr3
    movl $0xc0000080, %ecx     /* EFER.LME */
    rdmsr
    orl $0x100, %eax
    wrmsr
    movl %cr0, %eax            /* PE | PG: straight into long mode */
    orl $0x80000001, %eax
    movl %eax, %cr0
    lgdtl AT(gdtr)
    ljmpl $0x08, $AT(long_mode)

    .code64
long_mode:
    movw $0x10, %ax
    movw %ax, %ds
    movw %ax, %es
    movw %ax, %ss
    movq $0x9000, %rsp
    movq $AT(tick), %rax       /* IDT gates 0x20..0x2f -> tick */
    movq $0x4200, %rdi
    movl $16, %ecx
1:  movw %ax, (%rdi)
    movw $0x08, 2(%rdi)
    movw $0x8e00, 4(%rdi)
    movq %rax, %rdx
    shrq $16, %rdx
    movw %dx, 6(%rdi)
    shrq $16, %rdx
    movl %edx, 8(%rdi)
    addq $16, %rdi
    loop 1b
    lidt AT(idtr)
    movb $0x11, %al            /* PIC: IRQ 0-15 at vectors 0x20-0x2f, only IRQ 0 unmasked */
    outb %al, $0x20
    outb %al, $0xa0
    movb $0x20, %al
    outb %al, $0x21
    movb $0x28, %al
    outb %al, $0xa1
    movb $4, %al
    outb %al, $0x21
    movb $2, %al
    outb %al, $0xa1
    movb $1, %al
    outb %al, $0x21
    outb %al, $0xa1
    movb $0xfe, %al
    outb %al, $0x21
    movb $0xff, %al
    outb %al, $0xa1
    movb $0x34, %al            /* PIT channel 0: rate generator, divisor 1193 (~1 kHz) */
    outb %al, $0x43
    movb $0xa9, %al
    outb %al, $0x40
    movb $0x04, %al
    outb %al, $0x40
    sti
2:  hlt                        /* wait for 20 ticks */
    cmpl $20, 0x5000
    jb 2b
    movb $0x31, %al            /* isa-debug-exit: (0x31 << 1) | 1 = 99 */
    outb %al, $0xf4
    cli
3:  hlt
    jmp 3b
tick:
    incl 0x5000
    pushq %rax
    movb $0x20, %al            /* end of interrupt */
    outb %al, $0x20
    popq %rax
    iretq
    .balign 8
gdt:
    .quad 0
    .quad 0x00af9a000000ffff   /* 0x08: 64-bit code */
    .quad 0x00cf92000000ffff   /* 0x10: data */
gdtr:
    .word 23
    .long AT(gdt)
idtr:
    .word 0x2ff
    .quad 0x4000
kiln_kvm_probe_end:

    .section .note.GNU-stack, "", @progbits
