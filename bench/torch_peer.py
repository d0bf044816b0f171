# The benches' reference networks in PyTorch, driven line by line from stdin so a bench can interleave PyTorch's
# epochs with the engine's in one run. Usage: python3 torch_peer.py mlp|cnn SAMPLES
# Commands: "epoch T" trains one timed epoch on T threads (the first one per T after an untimed warm-up epoch)
# and answers {"seconds": wall s, "cpu": process CPU s}; "matmul T" answers {"flops": best torch.mm 1024^3 rate on T threads}.
# The first line printed is {"version": torch.__version__}.
import ctypes
import json
import sys
import time

import torch
from torch import nn

kind, samples = sys.argv[1], int(sys.argv[2])
torch.manual_seed(7)
if kind == "mlp":
    x = torch.rand(samples, 784)
else:
    x = torch.rand(samples, 1, 28, 28)
y = torch.randint(0, 10, (samples,))


def model():
    if kind == "mlp":
        return nn.Sequential(nn.Linear(784, 256), nn.ReLU(), nn.Linear(256, 128), nn.ReLU(), nn.Linear(128, 10))
    return nn.Sequential(
        nn.Conv2d(1, 32, 3, padding="same"), nn.ReLU(), nn.MaxPool2d(2),
        nn.Conv2d(32, 64, 3, padding="same"), nn.ReLU(), nn.MaxPool2d(2),
        nn.Flatten(), nn.Linear(64 * 7 * 7, 128), nn.ReLU(), nn.Linear(128, 10))


def epoch(net, opt, loss):
    perm = torch.randperm(samples)
    for i in range(0, samples, 128):
        idx = perm[i:i + 128]
        opt.zero_grad(set_to_none=False)
        loss(net(x[idx]), y[idx]).backward()
        opt.step()


def answer(value):
    print(json.dumps(value), flush=True)


def blas():
    # Debian's torch calls whichever libblas.so.3 the alternatives system points at; the reference BLAS is ~100x slower.
    with open("/proc/self/maps") as maps:
        libraries = maps.read()
    for name in ("openblas", "blis", "mkl", "atlas"):
        if name in libraries:
            return name
    return "reference (apt-get install libopenblas0-pthread)"


try:
    # OpenBLAS keeps its own thread pool, which torch.set_num_threads does not reach in Debian's build.
    openblas = ctypes.CDLL("libblas.so.3").openblas_set_num_threads
except (OSError, AttributeError):
    openblas = None

runs = {}
answer({"version": torch.__version__, "blas": blas()})
for line in sys.stdin:
    command, threads = line.split()
    threads = int(threads)
    torch.set_num_threads(threads)
    if openblas is not None:
        openblas(threads)
    if command == "epoch":
        if threads not in runs:
            net = model()
            runs[threads] = (net, torch.optim.Adam(net.parameters(), lr=1e-3), nn.CrossEntropyLoss())
            epoch(*runs[threads])  # warm-up
        start, cpu = time.perf_counter(), time.process_time()
        epoch(*runs[threads])
        answer({"seconds": time.perf_counter() - start, "cpu": time.process_time() - cpu})
    elif command == "matmul":
        a, b = torch.rand(1024, 1024), torch.rand(1024, 1024)
        torch.mm(a, b)
        rate = 0.0
        for _ in range(5):
            start = time.perf_counter()
            torch.mm(a, b)
            rate = max(rate, 2 * 1024 ** 3 / (time.perf_counter() - start))
        answer({"flops": rate})
