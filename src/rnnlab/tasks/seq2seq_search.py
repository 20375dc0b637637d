"""Decoding a `Seq2SeqNet`: greedy search and beam search, batched over source sequences.

Both run the decoder one step at a time in eval mode from <s> until </s> or `max_len` steps, for a whole
batch at once; each batch row is independent of the others (the attention mask hides padding), so a row
decodes to the same output alone or in any batch.

Beam search keeps the `beam` best partial outputs of each row by total log-probability. A candidate
ending in </s> among a row's `beam` best leaves the beam as a finished hypothesis, scored by its
log-probability divided by its length (</s> included) to the power `length_penalty` (0: no
normalisation, which favours short outputs; 1: mean log-probability per token). A row stops when it
holds `beam` finished hypotheses; at `max_len`, the partial ones still in the beam are finished as they
are. The answer is the finished hypothesis of highest normalised score.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from rnnlab.nn.losses import log_softmax

PAD, BOS, EOS = 0, 2, 3  # target ids of <pad>, <s> and </s> (1 is <unk>)


def _log_probs(logits: np.ndarray) -> np.ndarray:
    """(B, V) log-probabilities in float64 over the tokens an output may hold: never <pad> or <s>."""
    logits = logits.astype(np.float64)
    logits[:, [PAD, BOS]] = -np.inf
    return log_softmax(logits)


@dataclass
class Hypothesis:
    """One decoded output: token ids (no <s>, no </s>), attention weights (len(tokens) + 1, S) over the
    row's real source steps (the last row: the step that chose </s>, or the last step), its log-probability
    (natural log, </s> included) and its score, the log-probability / length ** length_penalty by which beam
    search ranks it (greedy: the log-probability)."""

    tokens: list[int]
    weights: np.ndarray
    log_prob: float
    score: float


def _repeat_state(state, rows: np.ndarray):
    return tuple(s[rows] for s in state) if isinstance(state, tuple) else state[rows]


def greedy(net, source: np.ndarray, mask: np.ndarray, max_len: int) -> list[Hypothesis]:
    """The most likely token at every step. source, mask (S, B) -> one Hypothesis per row.

    Rows that have chosen </s> leave the batch, so a step costs only the rows still going."""
    memory, state = net.encode(source, mask)
    B, S = source.shape[1], source.shape[0]
    rows = np.arange(B)  # the rows still going, in the batch of this step
    tokens = np.full(B, BOS, np.int64)
    attentional = None
    chosen: list[list[int]] = [[] for _ in range(B)]
    weights = np.zeros((max_len, B, S), memory.dtype)  # (steps, B, S)
    scores, steps = np.zeros(B), np.zeros(B, np.int64)
    going_mask = mask
    for t in range(max_len):
        logits, state, attentional, w = net.decoder(tokens, state, memory, going_mask, attentional)  # (b, V), (b, S)
        log_p = _log_probs(logits)  # (b, V)
        tokens = log_p.argmax(axis=1)
        scores[rows] += log_p[np.arange(len(rows)), tokens]
        weights[t, rows] = w
        steps[rows] = t + 1
        for row, token in zip(rows.tolist(), tokens.tolist(), strict=True):
            chosen[row].append(token)
        going = tokens != EOS
        if not going.all():  # keep only the rows still going
            if not going.any():
                break
            rows, tokens, attentional = rows[going], tokens[going], attentional[going]
            state = tuple(s[going] for s in state) if isinstance(state, tuple) else state[going]
            memory, going_mask = memory[:, going], going_mask[:, going]
    out = []
    for b in range(B):
        ids = chosen[b][:-1] if chosen[b][-1] == EOS else chosen[b]
        out.append(Hypothesis(ids, weights[: steps[b], b][:, mask[:, b]], float(scores[b]), float(scores[b])))
    return out


def beam_search(net, source: np.ndarray, mask: np.ndarray, max_len: int, beam: int,
                length_penalty: float = 1.0) -> list[Hypothesis]:
    """The best of `beam` hypotheses per row (see the module docstring). source, mask (S, B)."""
    if beam == 1:
        return greedy(net, source, mask, max_len)
    memory, state = net.encode(source, mask)
    B, K = source.shape[1], beam
    rows = np.repeat(np.arange(B), K)  # (B*K,) the batch row of each beam
    memory, mask_k, state = memory[:, rows], mask[:, rows], _repeat_state(state, rows)
    scores = np.full((B, K), -np.inf)
    scores[:, 0] = 0.0  # one live hypothesis to start with: the others would repeat it
    tokens = np.full(B * K, BOS, np.int64)
    attentional = None
    back, picked, seen = [], [], []  # per step: (B, K) parent beam, (B, K) token, (B*K, S) weights
    finished: list[list[tuple]] = [[] for _ in range(B)]  # (normalised score, log-probability, ids, weights)
    done = np.zeros(B, bool)

    def trace(t: int, flat: int) -> tuple[list[int], np.ndarray]:
        """Tokens and weights of steps 0..t of the beam at `flat` after step t's selection."""
        ids, w = [], []
        for step in range(t, -1, -1):  # from the last step back to the first
            b, k = divmod(flat, K)
            parent = b * K + int(back[step][b, k])  # the beam that chose this token, as ordered before the step
            ids.append(int(picked[step][b, k]))
            w.append(seen[step][parent])
            flat = parent
        return ids[::-1], np.stack(w[::-1])

    for t in range(max_len):
        logits, state, attentional, w = net.decoder(tokens, state, memory, mask_k, attentional)
        total = scores[:, :, None] + _log_probs(logits).reshape(B, K, -1)  # (B, K, V)
        V = total.shape[2]
        flat = total.reshape(B, K * V)
        top = np.argsort(-flat, axis=1, kind="stable")[:, : 2 * K]  # (B, 2K): enough to keep K that go on
        top_scores = np.take_along_axis(flat, top, axis=1)
        top_beam, top_token = np.divmod(top, V)
        ends = (top_token == EOS) & np.isfinite(top_scores)
        ends[:, K:] = False  # only a candidate among the K best may finish
        ends[done] = False
        goes_on = np.argsort(top_token == EOS, axis=1, kind="stable")[:, :K]  # (B, K): the best K not ending
        back.append(np.take_along_axis(top_beam, goes_on, axis=1))
        picked.append(np.take_along_axis(top_token, goes_on, axis=1))
        scores = np.take_along_axis(top_scores, goes_on, axis=1)
        seen.append(w)
        for b, j in zip(*np.nonzero(ends), strict=True):  # finished hypotheses: their own trace
            parent = b * K + int(top_beam[b, j])
            ids, weights = trace(t - 1, parent) if t else ([], np.empty((0, w.shape[1])))
            weights = np.concatenate([weights, w[parent][None]])
            log_prob = float(top_scores[b, j])
            finished[b].append((log_prob / (t + 1) ** length_penalty, log_prob, ids, weights))
        done |= np.array([len(f) >= K for f in finished])
        if done.all():
            break
        parents = (np.arange(B)[:, None] * K + back[-1]).reshape(-1)  # (B*K,) reorder every beam's state
        state, attentional = _repeat_state(state, parents), attentional[parents]
        tokens = picked[-1].reshape(-1)
    else:  # out of steps: the live hypotheses finish as they are
        for b in np.flatnonzero(~done):
            for k in range(K):
                if np.isfinite(scores[b, k]):
                    ids, weights = trace(len(back) - 1, b * K + k)
                    log_prob = float(scores[b, k])
                    finished[b].append((log_prob / max_len ** length_penalty, log_prob, ids, weights))
    out = []
    for b in range(B):
        score, log_prob, ids, weights = max(finished[b], key=lambda f: f[0])
        out.append(Hypothesis(ids, weights[:, mask[:, b]], log_prob, score))
    return out
