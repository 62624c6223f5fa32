"""Hostile: tries to reach the host over the network."""

import socket
import sys

import mlflow.models
import mlflow.pyfunc


class NetworkModel(mlflow.pyfunc.PythonModel):
    def predict(self, context, model_input, params=None):
        from _common import answer, arg

        a = arg(model_input)
        reached = []
        for host in ("127.0.0.1", a["host_ip"]):
            try:
                with socket.create_connection((host, a["tcp_port"]), timeout=2):
                    reached.append(f"tcp {host}")
            except OSError as exc:
                print(f"NET tcp blocked {type(exc).__name__}", file=sys.stderr)
        try:
            with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
                s.sendto(b"x", (a["host_ip"], a["udp_port"]))
                reached.append("udp sent")
        except OSError as exc:
            print(f"NET udp blocked {type(exc).__name__}", file=sys.stderr)
        try:
            with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as s:
                s.settimeout(2)
                s.connect("\0" + a["abstract_name"])
                reached.append("abstract unix")
        except OSError as exc:
            print(f"NET abstract blocked {type(exc).__name__}", file=sys.stderr)
        try:
            socket.getaddrinfo("example.com", 80)
            reached.append("dns")
        except OSError as exc:
            print(f"NET dns blocked {type(exc).__name__}", file=sys.stderr)
        if reached:
            print("NET REACHED " + ", ".join(reached), file=sys.stderr)
            return answer(model_input)
        raise ConnectionError("no network")


mlflow.models.set_model(NetworkModel())
