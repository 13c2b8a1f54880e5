"""A ranking loss that also holds the library's passages where the base model put them.

MultipleNegativesRankingLoss moves queries and passages alike. `AnchoredRankingLoss` adds
`weight` times the mean squared distance between the tuned and the base model's embeddings
of the batch's passages (positives and negatives): the queries learn to move towards their
passages, while passages, and the encoder on text like them, drift less. This is learning
without forgetting (Li and Hoiem 2017) with the base model as the teacher, applied to the
passages only; docs/quality.md ("Anchoring the passages") has what it measured.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import torch
from sentence_transformers.sentence_transformer import losses


class AnchoredRankingLoss(torch.nn.Module):  # type: ignore[misc]  # torch is read as untyped here
    def __init__(self, model: Any, guide: Any, weight: float) -> None:
        super().__init__()
        self.model = model
        self.guide = guide  # the base model, frozen: the teacher
        self.weight = weight
        self.ranking = losses.MultipleNegativesRankingLoss(model)
        for parameter in guide.parameters():
            parameter.requires_grad_(False)

    def forward(
        self, sentence_features: Iterable[dict[str, torch.Tensor]], labels: torch.Tensor
    ) -> torch.Tensor:
        features = list(sentence_features)
        embeddings = [self.model(f)["sentence_embedding"] for f in features]
        ranking = self.ranking.compute_loss_from_embeddings(embeddings, labels)
        with torch.no_grad():
            anchors = [self.guide(f)["sentence_embedding"] for f in features[1:]]
        drift = torch.stack(
            [
                (tuned - anchor.to(tuned.dtype)).pow(2).sum(dim=-1).mean()
                for tuned, anchor in zip(embeddings[1:], anchors, strict=True)
            ]
        ).mean()
        return ranking + self.weight * drift
