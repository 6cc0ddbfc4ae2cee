"""Traditional Chinese characters folded to Simplified, for the intent matcher.

Whisper writes Mandarin in Traditional characters when nothing steers it (espeak-ng's 是的没问题 came back
as 是的沒問題 without a prompt), and a flow's phrases are Simplified; the matcher compares characters, so
:func:`to_simplified` folds both sides the same way. This is a table of single characters, not a converter:
the ~200 characters of everyday answers to a call about a ticket or a delivery (yes/no, later, a person,
stop calling, wrong number, time words, the nouns of a ticket) whose Simplified form differs. Phrase-level
conversion (OpenCC, ``opencc`` on PyPI, a native library with 1-2 MB of dictionaries) would also handle the
few one-to-many cases (乾/幹/干), which the matcher does not need: it sees each character as a unit, and a
flow author writes Simplified.
"""

from __future__ import annotations

__all__ = ["TRADITIONAL", "to_simplified"]

# Traditional characters, then their Simplified forms in the same order (one character each).
_PAIRS = (
    "對是們這個說話電號碼錯誤還沒問題謝開車會議點後過給轉讓請員聽見誰現實東務應該處理邊兩幾長門時間單訂貨錢幫覺"
    "為麼嗎來經刪掉煩騷擾裡裏準備馬鐘約節專業難離遠進關網寫認識確動機發線聯繫係記辦頭買賣話費錄與從樣氣樂歡"
    "帶隨場當頁雙週歲總結決啟態麻煩則訴訟檢查復體製發醫療園區縣鄉紀錄們屬於於讀請須換無臺灣語學習術視頻寬別説愛",
    "对是们这个说话电号码错误还没问题谢开车会议点后过给转让请员听见谁现实东务应该处理边两几长门时间单订货钱帮觉"
    "为么吗来经删掉烦骚扰里里准备马钟约节专业难离远进关网写认识确动机发线联系系记办头买卖话费录与从样气乐欢"
    "带随场当页双周岁总结决启态麻烦则诉讼检查复体制发医疗园区县乡纪录们属于于读请须换无台湾语学习术视频宽别说爱",
)
TRADITIONAL: dict[str, str] = {t: s for t, s in zip(_PAIRS[0], _PAIRS[1], strict=True) if t != s}
_TABLE = str.maketrans(TRADITIONAL)


def to_simplified(text: str) -> str:
    """``text`` with the Traditional characters of :data:`TRADITIONAL` in their Simplified form."""
    return text.translate(_TABLE)
