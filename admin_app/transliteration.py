"""Russian letters in Latin ones, as in Russian passports: «Щукин» → "Shchukin", «Подъячев» → "Podieiachev".

The table is the one of ICAO Doc 9303 that Russian passports follow (Приказ МВД России от 27.11.2017 № 889,
after the 2010 rules of ГОСТ Р 52535.1-2006 with two letters changed: ц is "ts", not "tc"; ъ is "ie", not dropped).
It makes the login suggested from an invitee's full name; the password policy's "close to the login" check
(admin_app.accounts) reads a password typed in Russian by it and by the everyday spelling («ю» "yu", «я» "ya").
Letters outside the table are left as they are.
"""

from __future__ import annotations

PASSPORT_LETTERS: dict[str, str] = {
    "а": "a",
    "б": "b",
    "в": "v",
    "г": "g",
    "д": "d",
    "е": "e",
    "ё": "e",
    "ж": "zh",
    "з": "z",
    "и": "i",
    "й": "i",
    "к": "k",
    "л": "l",
    "м": "m",
    "н": "n",
    "о": "o",
    "п": "p",
    "р": "r",
    "с": "s",
    "т": "t",
    "у": "u",
    "ф": "f",
    "х": "kh",
    "ц": "ts",
    "ч": "ch",
    "ш": "sh",
    "щ": "shch",
    "ъ": "ie",
    "ы": "y",
    "ь": "",
    "э": "e",
    "ю": "iu",
    "я": "ia",
}

# For str.translate: the lower-case letters as in the table, a capital as its spelling capitalised («Щ» → "Shch").
TRANSLITERATION = str.maketrans(
    PASSPORT_LETTERS | {letter.upper(): latin.capitalize() for letter, latin in PASSPORT_LETTERS.items()}
)


# The everyday spelling many people already use for their logins and e-mail addresses: «Юлия» → "yuliya".
EVERYDAY_LETTERS = PASSPORT_LETTERS | {"й": "y", "ъ": "", "ю": "yu", "я": "ya"}
LOWER_CASE_SPELLINGS = (str.maketrans(PASSPORT_LETTERS), str.maketrans(EVERYDAY_LETTERS))


def latin_spellings(text: str) -> set[str]:
    """Lower-case `text` spelt by the passport table and by the everyday one (the password policy's reading)."""
    lowered = text.lower()
    return {lowered.translate(table) for table in LOWER_CASE_SPELLINGS}


def transliterate(text: str) -> str:
    """`text` with every Russian letter spelt in Latin ones by the passport table; other characters unchanged."""
    return text.translate(TRANSLITERATION)
