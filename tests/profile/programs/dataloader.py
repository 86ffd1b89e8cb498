"""A torch DataLoader whose 2 worker processes do the work (a slow Python __getitem__) while the
model step is tiny: the main process mostly waits for batches."""
import sys
import time

import torch
from torch.utils.data import DataLoader, Dataset


class SlowDataset(Dataset):
    def __len__(self):
        return 100_000

    def __getitem__(self, index):
        total = 0
        for i in range(30_000):          # decoding/augmentation stand-in: pure Python in the worker
            total += (i * index) % 11
        return torch.full((16,), float(total % 5))


def main(seconds):
    loader = DataLoader(SlowDataset(), batch_size=8, num_workers=2)
    weight = torch.randn(16, 4)
    end = time.perf_counter() + seconds
    steps = 0
    for batch in loader:
        (batch @ weight).relu().sum()    # the "model": microseconds per step
        steps += 1
        if time.perf_counter() > end:
            break
    print(f"dataloader: {steps} steps")


if __name__ == "__main__":
    main(float(sys.argv[1]) if len(sys.argv) > 1 else 2.0)
