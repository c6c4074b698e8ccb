"""Two ranks of a torch.distributed (gloo, CPU) job each mix their local batch
with the README's recipe, Mixer(seed=(seed, rank)); rank 0 gathers every
rank's draws and prints them as JSON. Usage: distributed_torch.py SEED PORT"""

import json
import sys

import torch
import torch.distributed as dist
import torch.multiprocessing as mp

import arraymix


def worker(rank: int, world: int, seed: int, port: int) -> None:
    dist.init_process_group("gloo", init_method=f"tcp://127.0.0.1:{port}", rank=rank,
                            world_size=world)
    mixer = arraymix.Mixer(num_classes=8, label_smoothing=0.0, lam_mode="sample",
                           seed=(seed, rank))
    x = torch.arange(8.0).reshape(8, 1, 1, 1).repeat(1, 1, 4, 4)
    _, y = mixer(x, torch.arange(8))
    state = mixer.state_dict()
    resumed = arraymix.Mixer(num_classes=8, label_smoothing=0.0, lam_mode="sample")
    resumed.load_state_dict(state)
    same = bool(torch.equal(resumed(x, torch.arange(8))[1], mixer(x, torch.arange(8))[1]))
    mine = torch.cat([y.flatten(), torch.tensor([float(same)])])
    gathered = [torch.empty_like(mine) for _ in range(world)]
    dist.all_gather(gathered, mine)
    if rank == 0:
        print(json.dumps([g.tolist() for g in gathered]))
    dist.destroy_process_group()


if __name__ == "__main__":
    seed, port = int(sys.argv[1]), int(sys.argv[2])
    mp.spawn(worker, args=(2, seed, port), nprocs=2, join=True)
