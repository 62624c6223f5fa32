"""A seccomp filter for the sandbox, as a raw classic-BPF program for ``bwrap --seccomp FD``.

Namespaces already take away the network and the host file system; the filter narrows what the
kernel offers the model on top of that, so that a kernel bug behind a rarely needed system call
is harder to reach:

* sockets other than ``AF_UNIX`` fail with ``EAFNOSUPPORT``;
* new namespaces (``unshare``, ``setns``, ``clone`` with any ``CLONE_NEW*`` flag) fail with
  ``EPERM``; ``clone3``, whose flags a filter cannot inspect, fails with ``ENOSYS`` so that
  libc falls back to ``clone``;
* mounting, ``ptrace`` and cross-process memory access, kernel modules, kexec, ``bpf``,
  ``perf_event_open``, ``userfaultfd``, the key ring, ``io_uring``, handle-based opens, swap,
  reboot, accounting, quotas, the kernel log and port I/O fail with ``EPERM``;
* system calls of another ABI (x32, or i386 through ``int 0x80``) kill the process.

Only x86-64 is described here; elsewhere :func:`seccomp_program` returns None and the sandbox
runs without the filter (and says so in the run's warnings).
"""

from __future__ import annotations

import errno
import platform
import struct

__all__ = ["seccomp_program"]

# struct seccomp_data: int nr; __u32 arch; __u64 instruction_pointer; __u64 args[6];
_OFF_NR, _OFF_ARCH, _OFF_ARG0 = 0, 4, 16
_AUDIT_ARCH_X86_64 = 0xC000003E
_X32_SYSCALL_BIT = 0x40000000

_LD_W_ABS = 0x20
_JEQ_K = 0x15
_JGE_K = 0x35
_JSET_K = 0x45
_RET_K = 0x06

_RET_KILL_PROCESS = 0x80000000
_RET_ALLOW = 0x7FFF0000
_RET_ERRNO = 0x00050000

_AF_UNIX = 1
_CLONE_NEW_FLAGS = (
    0x00000080  # CLONE_NEWTIME
    | 0x00020000  # CLONE_NEWNS
    | 0x02000000  # CLONE_NEWCGROUP
    | 0x04000000  # CLONE_NEWUTS
    | 0x08000000  # CLONE_NEWIPC
    | 0x10000000  # CLONE_NEWUSER
    | 0x20000000  # CLONE_NEWPID
    | 0x40000000  # CLONE_NEWNET
)

# x86-64 system call numbers (arch/x86/entry/syscalls/syscall_64.tbl).
_X86_64 = {
    "socket": 41,
    "clone": 56,
    "clone3": 435,
    "denied": {
        "ptrace": 101, "syslog": 103, "pivot_root": 155, "chroot": 161, "acct": 163,
        "mount": 165, "umount2": 166, "swapon": 167, "swapoff": 168, "reboot": 169,
        "iopl": 172, "ioperm": 173, "init_module": 175, "delete_module": 176, "quotactl": 179,
        "kexec_load": 246, "add_key": 248, "request_key": 249, "keyctl": 250, "unshare": 272,
        "perf_event_open": 298, "name_to_handle_at": 303, "open_by_handle_at": 304,
        "setns": 308, "process_vm_readv": 310, "process_vm_writev": 311, "finit_module": 313,
        "kexec_file_load": 320, "bpf": 321, "userfaultfd": 323, "io_uring_setup": 425,
        "io_uring_enter": 426, "io_uring_register": 427, "open_tree": 428, "move_mount": 429,
        "fsopen": 430, "fsconfig": 431, "fsmount": 432, "fspick": 433, "mount_setattr": 442,
    },
}


def seccomp_program() -> bytes | None:
    """The filter as packed ``struct sock_filter`` records, or None on an unsupported machine.

    Returns
    -------
    bytes or None
        ``8 * n`` bytes (``u16 code, u8 jt, u8 jf, u32 k``, native byte order) for
        ``bwrap --seccomp``; None unless the machine is x86-64 Linux.

    References
    ----------
    Linux kernel documentation, "Seccomp BPF (SECure COMPuting with filters)",
    Documentation/userspace-api/seccomp_filter.rst.
    """
    if platform.system() != "Linux" or platform.machine() not in ("x86_64", "AMD64"):
        return None
    table = _X86_64
    # (code, jump-true label or None, jump-false label or None, k, label of this instruction)
    prog: list[tuple[int, str | None, str | None, int, str | None]] = [
        (_LD_W_ABS, None, None, _OFF_ARCH, None),
        (_JEQ_K, "native", None, _AUDIT_ARCH_X86_64, None),
        (_RET_K, None, None, _RET_KILL_PROCESS, None),
        (_LD_W_ABS, None, None, _OFF_NR, "native"),
        (_JGE_K, "kill", None, _X32_SYSCALL_BIT, None),
    ]
    for nr in sorted(table["denied"].values()):
        prog.append((_JEQ_K, "eperm", None, nr, None))
    prog += [
        (_JEQ_K, "socket", None, table["socket"], None),
        (_JEQ_K, "clone", None, table["clone"], None),
        (_JEQ_K, "enosys", None, table["clone3"], None),
        (_RET_K, None, None, _RET_ALLOW, None),
        (_LD_W_ABS, None, None, _OFF_ARG0, "socket"),
        (_JEQ_K, "allow_arg", "eafnosupport", _AF_UNIX, None),
        (_LD_W_ABS, None, None, _OFF_ARG0, "clone"),
        (_JSET_K, "eperm", "allow_arg", _CLONE_NEW_FLAGS, None),
        (_RET_K, None, None, _RET_ERRNO | errno.EPERM, "eperm"),
        (_RET_K, None, None, _RET_ERRNO | errno.EAFNOSUPPORT, "eafnosupport"),
        (_RET_K, None, None, _RET_ERRNO | errno.ENOSYS, "enosys"),
        (_RET_K, None, None, _RET_KILL_PROCESS, "kill"),
        (_RET_K, None, None, _RET_ALLOW, "allow_arg"),
    ]
    where = {label: i for i, (*_, label) in enumerate(prog) if label}
    out = bytearray()
    for i, (code, jt, jf, k, _) in enumerate(prog):
        # Jumps are relative to the next instruction and only go forward.
        t = where[jt] - i - 1 if jt else 0
        f = where[jf] - i - 1 if jf else 0
        if not (0 <= t < 256 and 0 <= f < 256):
            raise RuntimeError("seccomp program too long for 8-bit jumps")
        out += struct.pack("=HBBI", code, t, f, k)
    return bytes(out)
