"""int8 for the OpenVINO backend: post-training quantization with NNCF, offline, once.

The converted fp32 model (`searchapp.embedding.openvino`) is quantized with NNCF's
transformer preset (int8 weights and activations in the matrix products; softmax, layer
norm and the rest stay in floating point), calibrated on local text only: the public-domain
sample documents shipped with searchapp, cut into windows of the model's tokens. Nothing
is downloaded. The result is saved beside the converted model, so later starts only load
it; a model whose quantization fails stays unquantized, with the reason raised.
"""

from __future__ import annotations

import logging
import os
import re
import threading
import warnings
from pathlib import Path
from typing import Any

import numpy as np

from searchapp.embedding.models import ModelInfo
from searchapp.embedding.tokens import TokenIds, TokenizerSpec
from searchapp.errors import ModelError

logger = logging.getLogger(__name__)

CALIBRATION_WINDOWS = 160  # samples NNCF sees; its default subset is 300
_WINDOW_WORDS = (12, 40, 90, 150)  # varied lengths, as queries and chunks are


def calibration_ids(info: ModelInfo) -> list[TokenIds]:
    """Token ids of windows of the bundled sample texts, as the model reads them."""
    from searchapp.samples import SAMPLE_DIR

    text = (SAMPLE_DIR / "the-modern-orchestra.txt").read_text(encoding="utf-8")
    html = (SAMPLE_DIR / "introduction-to-mathematics.html").read_text(encoding="utf-8")
    text += " " + re.sub(r"<[^>]+>", " ", re.sub(r"(?s)<(script|style)\b.*?</\1>", " ", html))
    words = text.split()
    windows: list[str] = []
    start = 0
    while start < len(words) and len(windows) < CALIBRATION_WINDOWS:
        width = _WINDOW_WORDS[len(windows) % len(_WINDOW_WORDS)]
        windows.append(" ".join(words[start : start + width]))
        start += width
    if not windows:
        raise ModelError("no calibration text for int8 quantization")
    return TokenizerSpec.for_model(info).build().ids(windows)


def quantized_model(xml: Path, info: ModelInfo, ov: Any) -> Path:
    """The int8 model beside `xml` (the converted fp32 one), quantized now if not yet."""
    target = xml.with_name("model-int8.xml")
    if target.is_file():
        return target
    try:
        import nncf
    except ImportError as exc:
        raise ModelError("int8 needs the nncf package (pip install nncf)") from exc
    logger.info("quantizing %s to int8 (once; cached in %s)", info.name, target.parent)
    model = ov.Core().read_model(str(xml))
    names = {port.get_any_name() for port in model.inputs}
    samples = []
    for found in calibration_ids(info):
        ids = np.asarray(found, dtype=np.int64)
        feed = {"input_ids": ids[None, :], "attention_mask": np.ones((1, len(ids)), dtype=np.int64)}
        if "token_type_ids" in names:
            feed["token_type_ids"] = np.zeros((1, len(ids)), dtype=np.int64)
        samples.append(feed)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            quantized = nncf.quantize(
                model,
                nncf.Dataset(samples),
                model_type=nncf.ModelType.TRANSFORMER,
                subset_size=len(samples),
            )
        partial = target.with_name(f"partial-int8-{os.getpid()}-{threading.get_ident()}.xml")
        ov.save_model(quantized, str(partial), compress_to_fp16=False)
        partial.with_suffix(".bin").replace(target.with_suffix(".bin"))
        partial.replace(target)
    except Exception as exc:
        raise ModelError(f"cannot quantize {info.name} to int8: {exc}") from exc
    return target
