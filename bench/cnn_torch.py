# The bench's reference CNN in PyTorch, for `bench cnn`: prints one JSON line with the best seconds per
# timed epoch over 1 and N threads, and torch.mm's GFLOP/s on 1024^3 at the best thread count.
# Usage: python3 cnn_torch.py SAMPLES EPOCHS MAX_THREADS
import json
import sys
import time

import torch
from torch import nn

samples, epochs, max_threads = int(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3])
torch.manual_seed(7)
x = torch.rand(samples, 1, 28, 28)
y = torch.randint(0, 10, (samples,))


def model():
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


best, best_threads = float("inf"), 1
for threads in sorted({1, max_threads}):
    torch.set_num_threads(threads)
    net = model()
    opt = torch.optim.Adam(net.parameters(), lr=1e-3)
    loss = nn.CrossEntropyLoss()
    epoch(net, opt, loss)  # warm-up
    start = time.perf_counter()
    for _ in range(epochs):
        epoch(net, opt, loss)
    seconds = (time.perf_counter() - start) / epochs
    print(f"pytorch threads {threads}: {seconds * 60000 / samples:7.2f} s/epoch (scaled)")
    if seconds < best:
        best, best_threads = seconds, threads

torch.set_num_threads(best_threads)
a, b = torch.rand(1024, 1024), torch.rand(1024, 1024)
torch.mm(a, b)
rate = 0.0
for _ in range(5):
    start = time.perf_counter()
    torch.mm(a, b)
    rate = max(rate, 2 * 1024 ** 3 / (time.perf_counter() - start))
print(json.dumps({"version": torch.__version__, "seconds": best, "threads": best_threads, "matmul_flops": rate}))
