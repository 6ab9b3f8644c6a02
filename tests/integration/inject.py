"""Runs a few system calls inside another, running process, from the outside (x86_64 only):
ptrace(PTRACE_SEIZE), stop it where it waits in a system call, point it at that `syscall`
instruction with other registers, single-step, read the result, put everything back, detach.
Used to watch the confinement of a process that no test input can make misbehave (the egress
proxy: its Landlock refusals are only reachable through a parser bug). The process's own
seccomp filter still sees every injected call, so only calls it allows may be injected (an
other one kills it). Needs CAP_SYS_PTRACE for a non-dumpable process (the tests run as root).
"""
import ctypes
import os
import signal
import time

_libc = ctypes.CDLL(None, use_errno=True)
_libc.ptrace.restype = ctypes.c_long
_libc.ptrace.argtypes = [ctypes.c_long, ctypes.c_long, ctypes.c_void_p, ctypes.c_void_p]

PTRACE_PEEKDATA, PTRACE_POKEDATA = 2, 5
PTRACE_SINGLESTEP, PTRACE_GETREGS, PTRACE_SETREGS, PTRACE_DETACH = 9, 12, 13, 17
PTRACE_SEIZE, PTRACE_INTERRUPT = 0x4206, 0x4207
WALL = 0x40000000
SYSCALL_INSN = 0x050F  # 0f 05, little-endian
NO_SYSCALL = 2**64 - 1  # orig_rax -1: the kernel does not try to restart anything on resume


class Regs(ctypes.Structure):
    _fields_ = [(name, ctypes.c_ulonglong) for name in (
        "r15 r14 r13 r12 rbp rbx r11 r10 r9 r8 rax rcx rdx rsi rdi orig_rax rip cs eflags "
        "rsp ss fs_base gs_base ds es fs gs").split()]


class Injector:
    """with Injector(pid) as inj: inj.syscall(nr, *args) -> the result (negative errno)."""

    def __init__(self, pid):
        self.pid = pid
        self.saved_words = {}
        self.saved = None

    def _ptrace(self, request, addr=0, data=0):
        ctypes.set_errno(0)
        result = _libc.ptrace(request, self.pid, ctypes.c_void_p(addr), ctypes.c_void_p(data))
        if result == -1 and ctypes.get_errno():
            e = ctypes.get_errno()
            raise OSError(e, f"ptrace({request}, {self.pid}): {os.strerror(e)}")
        return result

    def _wait_stop(self):
        _, status = os.waitpid(self.pid, WALL)
        if not os.WIFSTOPPED(status):
            raise AssertionError(f"process {self.pid} ended while traced (status {status:#x})")
        return os.WSTOPSIG(status)

    def _regs(self):
        regs = Regs()
        self._ptrace(PTRACE_GETREGS, 0, ctypes.addressof(regs))
        return regs

    def __enter__(self):
        # Stopped outside a system call (busy), it has no `syscall` instruction at hand:
        # let it go and try again; the processes this serves wait in epoll most of the time.
        for _ in range(50):
            self._ptrace(PTRACE_SEIZE)
            self._ptrace(PTRACE_INTERRUPT)
            self._wait_stop()
            self.saved = self._regs()
            if self.saved.orig_rax != NO_SYSCALL and \
                    self.peek(self.saved.rip - 2) & 0xFFFF == SYSCALL_INSN:
                self.insn = self.saved.rip - 2
                self.scratch = (self.saved.rsp - 8192) & ~0xF  # far below the red zone
                return self
            self._ptrace(PTRACE_DETACH)
            time.sleep(0.02)
        raise AssertionError(f"process {self.pid} was never stopped in a system call")

    def peek(self, addr):
        return self._ptrace(PTRACE_PEEKDATA, addr) & (2**64 - 1)

    def write(self, data):
        """Copies data to the scratch area below the stack; returns its address."""
        data += b"\0" * (-len(data) % 8)
        for i in range(0, len(data), 8):
            addr = self.scratch + i
            self.saved_words.setdefault(addr, self.peek(addr))
            self._ptrace(PTRACE_POKEDATA, addr, int.from_bytes(data[i:i + 8], "little"))
        return self.scratch

    def syscall(self, nr, *args):
        regs = Regs.from_buffer_copy(self.saved)
        regs.rip, regs.rax, regs.orig_rax = self.insn, nr, NO_SYSCALL
        for name, value in zip(("rdi", "rsi", "rdx", "r10", "r8", "r9"), args):
            setattr(regs, name, value & (2**64 - 1))
        self._ptrace(PTRACE_SETREGS, 0, ctypes.addressof(regs))
        self._ptrace(PTRACE_SINGLESTEP)
        sig = self._wait_stop()
        if sig != signal.SIGTRAP:
            raise AssertionError(f"injected syscall {nr}: stopped by signal {sig}, not SIGTRAP")
        result = self._regs().rax
        return result - 2**64 if result >= 2**63 else result

    def __exit__(self, *exc):
        for addr, word in self.saved_words.items():
            self._ptrace(PTRACE_POKEDATA, addr, word)
        # The saved registers still say "interrupted in its system call": on resume the
        # kernel restarts that call as if nothing had happened.
        self._ptrace(PTRACE_SETREGS, 0, ctypes.addressof(self.saved))
        self._ptrace(PTRACE_DETACH)
        return False
