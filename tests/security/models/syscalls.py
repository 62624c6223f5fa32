"""Hostile: asks the kernel for things the seccomp filter refuses."""

import ctypes
import errno
import os
import socket
import sys
import threading

import mlflow.models
import mlflow.pyfunc

CLONE_NEWUSER = 0x10000000
CLONE_NEWNS = 0x00020000


def _libc_call(name, *args):
    libc = ctypes.CDLL(None, use_errno=True)
    fn = getattr(libc, name)
    if fn(*args) == -1:
        return errno.errorcode.get(ctypes.get_errno(), "?")
    return "ok"


class SyscallModel(mlflow.pyfunc.PythonModel):
    def predict(self, context, model_input, params=None):
        from _common import answer

        outcomes = {}
        outcomes["unshare_user"] = _libc_call("unshare", CLONE_NEWUSER)
        outcomes["unshare_mount"] = _libc_call("unshare", CLONE_NEWNS)
        for name, family in (("inet", socket.AF_INET), ("inet6", socket.AF_INET6), ("netlink", socket.AF_NETLINK)):
            try:
                socket.socket(family, socket.SOCK_DGRAM if family != socket.AF_NETLINK else socket.SOCK_RAW).close()
                outcomes[f"socket_{name}"] = "ok"
            except OSError as exc:
                outcomes[f"socket_{name}"] = errno.errorcode.get(exc.errno, "?")
        libc = ctypes.CDLL(None, use_errno=True)
        libc.syscall.restype = ctypes.c_long
        for name, nr, args in (("io_uring_setup", 425, (1, 0)), ("keyctl", 250, (0, 0)), ("bpf", 321, (0, 0, 0))):
            rc = libc.syscall(nr, *[ctypes.c_long(a) for a in args])
            outcomes[name] = "ok" if rc >= 0 else errno.errorcode.get(ctypes.get_errno(), "?")
        pid = os.fork()
        if pid == 0:
            os._exit(0)
        os.waitpid(pid, 0)
        t = threading.Thread(target=lambda: None)
        t.start()
        t.join()
        outcomes["unix_socket"] = "ok" if socket.socketpair() else "?"
        for key, value in sorted(outcomes.items()):
            print(f"SYSCALL {key} {value}", file=sys.stderr)
        allowed = {k for k, v in outcomes.items() if v == "ok"} - {"unix_socket"}
        if allowed:
            return answer(model_input)
        raise PermissionError("the kernel refused every request")


mlflow.models.set_model(SyscallModel())
