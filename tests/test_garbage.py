"""`ingest.garbage`: which text layers are garbage. Each case is built by hand."""

from __future__ import annotations

import pytest

from searchapp.ingest.garbage import garbage_reason

ENGLISH = "The quick brown fox jumps over the lazy dog, and then it rests in the shade. " * 3


@pytest.mark.parametrize(
    "text",
    [
        ENGLISH,
        "Die Übungsaufgaben für Schwarz-Weiß-Bilder sind schön und größer als gedacht. " * 3,
        "Tiếng Việt là ngôn ngữ chính thức của Việt Nam, được dùng rộng rãi. " * 3,
        "Диагностическая карта технического осмотра транспортного средства. " * 3,
        "한국어 텍스트와 표가 있는 문서입니다. 적립 제외 대상 항목을 확인하세요. " * 3,
        "关于红军作战的原则 对国防问题的意见 同各方接洽要有谦逊态度 " * 3,
        "เวกเตอร์ขนาดนิ้ว\ue000 ภาษาไทย ข้อความ ตัวอย่าง สำหรับ ทดสอบ " * 3,  # a few private-use marks
        "short \x01\x02",  # too little to judge
        "Price: £12, 15°C, ±3 µm, ½ cup, © 2024 ® ™ — fine print in a catalogue of items. " * 2,
    ],
    ids=["english", "german", "vietnamese", "russian", "korean", "chinese", "thai", "short", "symbols"],
)
def test_real_text_is_not_garbage(text: str) -> None:
    assert garbage_reason(text) is None


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        (
            "\x04\x05\x06\x04\x07\x08 \x08 \x04\x08 \x04\x0e \x0f \x10 \x11\x12\x08\x13 TheTheory",
            "control characters",
        ),
        (
            "\uf041\uf042\uf043 \uf044\uf045\uf046\uf047 \uf048\uf049 \uf04a\uf04b\uf04c\uf04d\uf04e " * 3,
            "private-use",
        ),
        ("/g18/g152/g135/g148/g152/g139/g135/g153/g3/g145/g136/g3/g150/g138", "glyph names"),
        ("Ä¿ ¡¡ ¡¡ Â¼ ¹Ø ÓÚ ºì ¾ü ×÷ Õ½ µÄ Ô­ Ôò £± ¡­ ¡­ ¡­", "Latin-1"),
        ("—\x9c—°Ñ\x81Ñ\x81—° —\x9c—°Ñ\x81Ñ\x88Ñ\x82—°—– —\x98—•—…. —\x9b—‚Ñ\x81Ñ\x82", "control characters"),
        ("킜킰톁톁킰 킜킰톁톈톂킰킱 킘킷킼. 킛킸톁톂 № 킴킾킺톃킼. 킟킾킴킿. 킔킰톂킰", "rare Hangul"),
    ],
    ids=["controls", "private-use", "glyph-names", "latin1-soup", "c1-mojibake", "hangul-soup"],
)
def test_garbage_is_named(text: str, reason: str) -> None:
    found = garbage_reason(text)
    assert found is not None and reason in found, found
