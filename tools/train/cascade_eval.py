"""Early-exit arithmetic on precomputed per-exit probabilities: which exit answers at a given
threshold, accuracy and mean cumulative GFLOPs, and MODELS.md's budget-driven thresholds
(exit proportions pi_k ~ q^k). Used by eval.py, train_dvt.py (config thresholds) and plot.py.

probs: float tensor [K, N, C] (softmax of each exit); labels: [N]; gflops: cumulative per exit.
"""
import torch


def exits_for(probs, thresholds):
    """Exit index per sample: the first k with max prob >= thresholds[k]; the last always."""
    k_count, n = probs.shape[0], probs.shape[1]
    conf = probs.max(2).values
    chosen = torch.full((n,), k_count - 1, dtype=torch.long)
    done = torch.zeros(n, dtype=torch.bool)
    for k in range(k_count - 1):
        hit = (~done) & (conf[k] >= thresholds[k])
        chosen[hit] = k
        done |= hit
    return chosen


def evaluate(probs, labels, gflops, thresholds):
    """Returns dict: accuracy, mean_gflops, exit_counts for per-exit thresholds."""
    chosen = exits_for(probs, thresholds)
    pred = probs.argmax(2).gather(0, chosen.unsqueeze(0)).squeeze(0)
    g = torch.tensor(gflops, dtype=torch.float64)[chosen]
    return {"accuracy": (pred == labels).double().mean().item(),
            "mean_gflops": g.mean().item(),
            "exit_counts": torch.bincount(chosen, minlength=probs.shape[0]).tolist()}


def budget_thresholds(probs, q):
    """Thresholds for proportions pi_k = q^k / sum_j q^j: at exit k, of the samples still
    running, the floor(N*pi_k) most confident exit (threshold = the lowest confidence among
    them). The last exit's threshold is 0 (it always answers)."""
    k_count, n = probs.shape[0], probs.shape[1]
    w = [q ** k for k in range(k_count)]
    pis = [x / sum(w) for x in w]
    conf = probs.max(2).values
    remaining = torch.ones(n, dtype=torch.bool)
    th = []
    for k in range(k_count - 1):
        take = min(int(n * pis[k]), int(remaining.sum()))
        c = conf[k][remaining]
        if take <= 0:
            t = 1.1  # nobody exits here (above any probability)
        else:
            t = c.sort(descending=True).values[take - 1].item()
        th.append(t)
        remaining &= conf[k] < t
    th.append(0.0)
    return th
