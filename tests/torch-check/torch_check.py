"""Checks the service's safetensors files against real PyTorch (Debian's python3-torch), both ways.

  torch_check.py predict WEIGHTS INPUTS   load WEIGHTS into the README's nn.Sequential (strict), print eval softmax
  torch_check.py save WEIGHTS INPUTS      train that network briefly in PyTorch, save its state_dict to WEIGHTS,
                                          print its eval softmax
  torch_check.py predict_cnn WEIGHTS INPUTS  as predict, for docs/cnn.md's convolutional nn.Sequential; each input row
                                          is a flattened [1, 12, 12] image

INPUTS is a JSON file holding a list of rows; the output is a JSON list of rows on stdout. Debian has no
python3-safetensors, so the format (8-byte header length, JSON header, little-endian data) is read and written here.
"""
import json
import struct
import sys

import torch
import torch.nn as nn

DTYPES = {"F32": (torch.float32, 4), "I64": (torch.int64, 8)}


def network():
    # The README's network for a spec of dense 16, batchnorm, relu, dropout 0.2, dense 8, tanh, dense 3.
    return nn.Sequential(nn.Linear(2, 16), nn.BatchNorm1d(16), nn.ReLU(), nn.Dropout(0.2),
                         nn.Linear(16, 8), nn.Tanh(), nn.Linear(8, 3))


def cnn():
    # docs/cnn.md's network for a spec over input [1, 12, 12] of conv2d 4 3x3 same, batchnorm, relu, maxpool2d 2,
    # conv2d 8 3x3 stride 2 padding 1 without bias, relu, avgpool2d 2 stride 1, dropout 0.1, globalavgpool2d, flatten, dense 2.
    return nn.Sequential(nn.Conv2d(1, 4, 3, padding="same"), nn.BatchNorm2d(4), nn.ReLU(), nn.MaxPool2d(2),
                         nn.Conv2d(4, 8, 3, stride=2, padding=1, bias=False), nn.ReLU(), nn.AvgPool2d(2, stride=1),
                         nn.Dropout(0.1), nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(8, 2))


def load_file(path):
    with open(path, "rb") as f:
        raw = f.read()
    (length,) = struct.unpack("<Q", raw[:8])
    header = json.loads(raw[8:8 + length])
    data = raw[8 + length:]
    tensors = {}
    for name, entry in header.items():
        if name == "__metadata__":
            continue
        dtype, size = DTYPES[entry["dtype"]]
        begin, end = entry["data_offsets"]
        count = (end - begin) // size
        values = struct.unpack("<%d%s" % (count, "f" if size == 4 else "q"), data[begin:end])
        tensors[name] = torch.tensor(values, dtype=dtype).reshape(entry["shape"])
    return tensors


def save_file(tensors, path):
    header, chunks, offset = {}, [], 0
    for name in sorted(tensors):
        t = tensors[name].contiguous()
        if t.dtype == torch.float32:
            code, blob = "F32", struct.pack("<%df" % t.numel(), *t.flatten().tolist())
        elif t.dtype == torch.int64:
            code, blob = "I64", struct.pack("<%dq" % t.numel(), *t.flatten().tolist())
        else:
            raise ValueError("%s has dtype %s" % (name, t.dtype))
        header[name] = {"dtype": code, "shape": list(t.shape), "data_offsets": [offset, offset + len(blob)]}
        chunks.append(blob)
        offset += len(blob)
    text = json.dumps(header).encode()
    text += b" " * ((8 - len(text) % 8) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(text)) + text + b"".join(chunks))


def predict(net, inputs_path, shape=None):
    with open(inputs_path) as f:
        inputs = torch.tensor(json.load(f), dtype=torch.float32)
    if shape is not None:
        inputs = inputs.reshape(-1, *shape)  # the service's rows are NCHW images, flattened
    net.eval()
    with torch.no_grad():
        return net(inputs).softmax(-1).tolist()


def main():
    mode, weights, inputs = sys.argv[1:4]
    if mode == "predict_cnn":
        net = cnn()
        net.load_state_dict(load_file(weights))
        json.dump(predict(net, inputs, (1, 12, 12)), sys.stdout)
        return
    net = network()
    if mode == "predict":
        net.load_state_dict(load_file(weights))  # strict: every name and shape must match
    elif mode == "save":
        torch.manual_seed(5)
        optimizer = torch.optim.SGD(net.parameters(), lr=0.1)
        net.train()
        for _ in range(20):  # moves the weights and the batch norm's running statistics off their initial values
            x = torch.randn(32, 2) * 2
            loss = nn.functional.cross_entropy(net(x), (x[:, 0] > x[:, 1]).long())
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
        save_file(net.state_dict(), weights)
    else:
        raise SystemExit("unknown mode " + mode)
    json.dump(predict(net, inputs), sys.stdout)


if __name__ == "__main__":
    main()
