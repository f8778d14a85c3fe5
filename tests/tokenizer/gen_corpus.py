#!/usr/bin/env python3
"""Generate the tokenizer parity corpus: one JSON string per line.

    gen_corpus.py [--seed N] [--count N] [--out corpus.jsonl] [--sweep sweep.jsonl]

The corpus (default 6000 strings, deterministic for a seed) mixes what the worker sees (lab
test names, units, clinical sentences) with what breaks tokenizers: accents and combining
marks, CJK, emoji sequences, control, format and zero-width characters, every kind of white
space, very long words, repeated punctuation, special tokens written in the text, lone
surrogates, random code points from every plane, and texts long enough to be truncated.

--sweep writes a second file that covers every Unicode scalar value (surrogates excepted),
64 per line, twice: as words "aXb" separated by spaces (each character's category decides
the ids) and as one run of consecutive characters (decomposition and mark reordering).
Only the Python standard library is used.
"""
import argparse
import json
import random

LAB_NAMES = [
    "Hemoglobin A1c", "HbA1c", "Hemoglobin", "Hematocrit", "Glucose", "Fasting glucose",
    "Glucose, fasting", "Creatinine", "eGFR", "eGFR (CKD-EPI 2021)", "BUN", "BUN/Creatinine ratio",
    "Sodium", "Potassium", "Chloride", "CO2", "Bicarbonate", "Anion gap", "Calcium",
    "Ionized calcium", "Magnesium", "Phosphorus", "Albumin", "Total protein", "Globulin",
    "A/G ratio", "ALT (SGPT)", "AST (SGOT)", "ALP", "Alkaline phosphatase", "GGT",
    "Total bilirubin", "Direct bilirubin", "Indirect bilirubin", "LDH", "CK", "CK-MB",
    "Troponin I", "hs-Troponin T", "NT-proBNP", "BNP", "Total cholesterol", "LDL-C",
    "LDL cholesterol (calc)", "HDL-C", "Triglycerides", "Non-HDL cholesterol", "VLDL",
    "Lipoprotein(a)", "ApoB", "TSH", "Free T4", "FT3", "T3, total", "Anti-TPO antibodies",
    "WBC", "RBC", "Platelets", "PLT", "MCV", "MCH", "MCHC", "RDW-CV", "RDW-SD", "MPV",
    "Neutrophils %", "Lymphocytes #", "Monocytes", "Eosinophils", "Basophils", "ANC",
    "Reticulocyte count", "ESR", "CRP", "hs-CRP", "Procalcitonin", "Ferritin", "Iron",
    "TIBC", "Transferrin saturation", "Vitamin B12", "Folate", "25-OH Vitamin D",
    "Vitamin D, 25-Hydroxy", "PTH, intact", "Uric acid", "Urea", "Lactate", "Ammonia",
    "PSA, total", "Free PSA", "CEA", "CA 19-9", "CA-125", "AFP", "beta-hCG", "Cortisol, AM",
    "ACTH", "Testosterone, total", "Estradiol (E2)", "FSH", "LH", "Prolactin", "DHEA-S",
    "Insulin, fasting", "C-peptide", "HOMA-IR", "Microalbumin/Creatinine ratio, urine",
    "Urine albumin", "Urine protein", "Urinalysis: pH", "Specific gravity", "Ketones, urine",
    "Leukocyte esterase", "Nitrite", "Urobilinogen", "PT", "INR", "aPTT", "Fibrinogen",
    "D-dimer", "Anti-Xa", "HIV-1/2 Ag/Ab", "HBsAg", "Anti-HCV", "HCV RNA (IU/mL)",
    "SARS-CoV-2 RNA", "Strep A rapid", "Blood culture", "Culture, urine", "Gram stain",
    "Cortisol [Mass/volume] in Serum or Plasma --pre 250 ug corticotropin IM",
    "Glucose [Mass/volume] in Blood by Automated test strip",
    "Hemoglobin A1c/Hemoglobin.total in Blood", "Creatinine [Moles/volume] in Serum",
    "Leukocytes [#/volume] in Blood by Automated count", "Lp-PLA2", "Homocysteine", "CK-MM",
    "Apolipoprotein A-I", "Hb A2", "Hb F", "G6PD", "Zinc", "Copper", "Selenium",
    "Ceruloplasmin", "Haptoglobin", "Cystatin C", "β2-microglobulin", "α-fetoprotein",
    "γ-GT", "Na⁺", "K⁺", "Ca²⁺", "HCO₃⁻", "pCO₂", "pO₂", "SpO₂", "Vitamin D₃", "ω-3 index",
    "Hämoglobin", "Glukose (nüchtern)", "Créatinine", "Hémoglobine glyquée", "Glicemia",
    "Colesterol total", "Triglicéridos", "血红蛋白", "血糖", "糖化血红蛋白", "総コレステロール",
    "ヘモグロビンA1c", "중성지방", "혈당", "Гемоглобин", "Глюкоза", "Χοληστερόλη", "ヘマトクリット",
]

UNITS = ["mg/dL", "mmol/L", "g/dL", "%", "U/L", "IU/L", "µmol/L", "μmol/L", "ng/mL", "pg/mL",
         "mIU/L", "µIU/mL", "×10^9/L", "x10³/µL", "10*3/uL", "fL", "pg", "mm/h", "mL/min/1.73m²",
         "mEq/L", "nmol/L", "ratio", "s", "sec", "cells/µL", "/hpf", "mg/g", "kU/L", "°C"]

SPECIMENS = ["serum", "plasma", "whole blood", "urine", "CSF", "capillary blood", "saliva",
             "Ser/Plas", "Bld", "Urine, 24h"]

SENTENCES = [
    "Patient presents with fatigue; HbA1c was {v}{u} (ref < 5.7%).",
    "Fasting glucose {v} {u}, repeat in 3 months.",
    "{lab} elevated at {v} {u} — consider follow-up.",
    "No acute distress. BP 128/82 mmHg, HR 72 bpm, SpO₂ 98% on RA.",
    "Dx: type 2 diabetes mellitus (E11.9), hypertension (I10).",
    "Rx: metformin 500 mg PO BID; atorvastatin 20mg qHS.",
    "Labs drawn @ 07:30 — {lab}: {v} {u} [H]",
    "{lab} ({spec}) = {v} {u}",
    "Result: {v}{u}; flag=LOW; comment: \"hemolyzed sample\"",
    "The patient's {lab} is within normal limits.",
    "Résultat de {lab} : {v} {u} (valeurs normales).",
    "Der {lab}-Wert beträgt {v} {u}.",
    "El paciente tiene {lab} de {v} {u}.",
    "患者的{lab}为{v}{u}。",
    "検査結果：{lab} {v}{u}（基準値内）",
    "{lab} 수치는 {v} {u}입니다.",
    "Пациент: {lab} = {v} {u}.",
    "Follow-up in 2–3 weeks… re-check {lab}!!!",
    "Hx of MI (2019), s/p PCI w/ DES ×2.",
    "Allergies: PCN (rash), sulfa → hives.",
    "Temp 38.2°C, WBC 14.2 ×10⁹/L, CRP 85 mg/L ↑",
    "e-mail lab@example.org or call +1 (555) 010-9999 ext. 42",
    "URL: https://lab.example.com/results?id=12345&type=A1c#top",
    "{lab}\t{v}\t{u}\t{spec}",
    "{lab}\n{v} {u}\r\nnext line",
]

WORDS = ["the", "patient", "blood", "test", "result", "normal", "high", "low", "repeat",
         "fasting", "sample", "hemolyzed", "review", "value", "range", "reference", "clinic",
         "antibody", "antigen", "culture", "negative", "positive", "trace", "moderate",
         "pneumonoultramicroscopicsilicovolcanoconiosis", "hydroxychloroquine",
         "methylenetetrahydrofolate", "immunohistochemistry", "electroencephalography",
         "gastroenterology", "thrombocytopenia", "hypercholesterolemia", "glycosylated",
         "naïve", "café", "résumé", "coöperate", "façade", "jalapeño", "Zürich", "São Paulo",
         "Ångström", "Øresund", "Łódź", "İstanbul", "straße", "STRASSE", "ǅungla", "ﬁnal",
         "ﬀ", "Ⅻ", "①", "½", "x²", "ℌ", "ℍ", "Å", "Ω", "µ", "μ", "ſ", "K", "ΣΑΣ", "σς",
         "Ǆ", "ǈ", "ǋ", "Ϊ́", "ŉ", "ǰ", "ΐ", "ẞ", "ß", "Ⓐ", "ⓐ", "Ａｂｃ", "１２３", "ｶﾀｶﾅ"]

MULTILINGUAL = [
    "Tiếng Việt có dấu: Hà Nội, Thành phố Hồ Chí Minh", "Ελληνικά: Αθήνα, ψυχή, ύψος",
    "Русский текст: съешь же ещё этих мягких французских булок",
    "עברית: שָׁלוֹם עֲלֵיכֶם", "العربية: مَرْحَبًا بِكُمْ", "हिन्दी: नमस्ते दुनिया",
    "ไทย: สวัสดีครับ", "한국어: 안녕하세요 세계", "日本語：こんにちは、世界！",
    "中文：你好，世界！（测试）", "繁體中文：醫院檢驗報告", "Türkçe: ığüşöç İIıi",
    "Polski: zażółć gęślą jaźń", "Čeština: příliš žluťoučký kůň", "Română: ăâîșț ĂÂÎȘȚ",
    "Íslenska: þ ð æ ö", "Español: ¿Qué tal? ¡Muy bien!", "Français: « guillemets » — tiret",
    "Deutsch: „Anführungszeichen“ ‚einfach‘", "Português: ação, coração, pão",
    "ქართული ენა", "Հայերեն", "አማርኛ", "ᏣᎳᎩ", "ᠮᠣᠩᠭᠣᠯ", "ꦧꦱꦗꦮ", "𐌰𐌱𐌲 (Gothic)",
    "𝐁𝐨𝐥𝐝 𝑰𝒕𝒂𝒍𝒊𝒄 𝔉𝔯𝔞𝔨𝔱𝔲𝔯 𝕯𝖔𝖚𝖇𝖑𝖊", "Ⅰ Ⅱ Ⅲ Ⅳ ⅰ ⅱ", "㎎ ㎖ ㎗ ㏄ ℃ ℉",
    "CJK ext: 𠀀𠀁 𪜀 𫝀 𫠠 𬺰 𰀀 𱍐 㐀 丽", "Hangul jamo: 각 ㄱㅏ",
]

EMOJI = ["😀", "🤣", "🫨", "🟠", "👍", "👍🏽", "👩‍⚕️", "👨‍👩‍👧‍👦", "🏳️‍🌈", "🇺🇸", "🇯🇵", "❤️",
         "❤", "☺", "☺️", "✅", "⚠️", "🩸", "💉", "🧪", "🔬", "🦠", "#️⃣", "1️⃣", "©", "®", "™",
         "🏴󠁧󠁢󠁳󠁣󠁴󠁿", "🧑🏿‍🦱", "🙇‍♀️", "👁‍🗨"]

CONTROL = ["\u0000", "\u0001", "\u0007", "\b", "\t", "\n", "\u000b", "\f", "\r", "\u001b",
           "\u001f", "\u007f", "\u0080", "\u0085", "\u009f", "\u00ad", "\u061c", "\u180e",
           "\u200b", "\u200c", "\u200d", "\u200e", "\u200f", "\u202a", "\u202e", "\u2060",
           "\u2061", "\u2066", "\u2069", "\ufeff", "\ufff9", "\ufffb", "\ufffc", "\ufffd",
           "\ufffe", "\uffff", "\ue000", "\uf8ff", "\U000f0000", "\U0010fffd", "\U000e0001",
           "\U000e0041", "\U0001d173", "\U000110bd", "\U0001bca0", "\u0890", "\u08e2"]

SPACES = [" ", "  ", "\t", "\n", "\r\n", "\u00a0", "\u1680", "\u2000", "\u2002", "\u2003",
          "\u2007", "\u2009", "\u200a", "\u2028", "\u2029", "\u202f", "\u205f", "\u3000",
          "\u180e", "\u200b", "\u0085", "\u000b", "\u000c", "\u001c", "\u001d", "\u001e",
          "\u001f"]

COMBINING = ["\u0300", "\u0301", "\u0302", "\u0303", "\u0308", "\u030a", "\u0327", "\u0328",
             "\u0316", "\u0334", "\u0345", "\u034f", "\u0358", "\u0360", "\u0361", "\u05b0",
             "\u064b", "\u0651", "\u093c", "\u094d", "\u0e48", "\u0f71", "\u0f72", "\u0f80",
             "\u1ab0", "\u1dc0", "\u20d0", "\u20e3", "\u302a", "\u3099", "\ufe0f", "\ufe20",
             "\U0001d165", "\U0001d167", "\U000e0100", "\u0488", "\u1ac0", "\u0898", "\u1734",
             "\U00011938", "\U0001193d", "\u1715"]

PUNCT = list("!\"#$%&'()*+,-./:;<=>?@[\\]^_`{|}~") + [
    "¡", "¿", "«", "»", "‹", "›", "“", "”", "‘", "’", "„", "‚", "—", "–", "‐", "‑", "‒", "―",
    "…", "·", "•", "‧", "†", "‡", "§", "¶", "※", "‰", "′", "″", "⁂", "、", "。", "「", "」",
    "『", "』", "【", "】", "〈", "〉", "《", "》", "！", "？", "，", "．", "：", "；", "（", "）",
    "［", "］", "｛", "｝", "＿", "＠", "＃", "％", "＆", "＊", "＼", "／", "⸘", "⹝", "⹂", "᭽",
    "𑁇", "𖺗", "\u166d", "\U000111c9", "$", "€", "£", "¥", "₹", "¢", "°", "±", "×", "÷",
    "→", "←", "↑", "↓", "≤", "≥", "≠", "≈", "∞", "√", "∑", "µ", "©", "®", "^", "`", "~"]

SPECIAL_TOKENS = ["[CLS]", "[SEP]", "[UNK]", "[PAD]", "[MASK]", "[cls]", "[mask]", "[ MASK ]",
                  "[MASK", "MASK]", "[[MASK]]", "[MASK][MASK]", "[unused1]", "[unused99]",
                  "<s>", "</s>", "<unk>", "##", "##ing", "###", "[CLS]text[SEP]"]


def rand_cp(rng):
    """A random Unicode scalar value, biased toward assigned planes."""
    r = rng.random()
    if r < 0.30:
        cp = rng.randint(0x20, 0x2FF)
    elif r < 0.60:
        cp = rng.randint(0x300, 0xFFFF)
    elif r < 0.85:
        cp = rng.randint(0x10000, 0x3FFFF)
    else:
        cp = rng.randint(0x40000, 0x10FFFF)
    if 0xD800 <= cp <= 0xDFFF:
        cp -= 0x1000
    return chr(cp)


def lab_value(rng):
    return rng.choice([str(rng.randint(0, 400)), "%.1f" % rng.uniform(0, 20),
                       "%.2f" % rng.uniform(0, 2), "<0.01", ">1000", "1,234", "3.5e-2", "-0.4",
                       "7.0", "NEG", "trace", "+++", "12 345", "0,5"])


def gen_lab(rng):
    name = rng.choice(LAB_NAMES)
    r = rng.random()
    if r < 0.25:
        return name
    if r < 0.45:
        return "%s %s %s" % (name, lab_value(rng), rng.choice(UNITS))
    if r < 0.60:
        return "%s (%s)" % (name, rng.choice(SPECIMENS))
    if r < 0.70:
        return name.upper()
    if r < 0.80:
        return name.lower()
    if r < 0.90:
        return name.replace(" ", rng.choice(["", "_", "-", "  ", "\t", "/", "."]))
    return "%s, %s; %s" % (name, rng.choice(LAB_NAMES), rng.choice(LAB_NAMES))


def gen_sentence(rng):
    t = rng.choice(SENTENCES)
    return t.format(lab=rng.choice(LAB_NAMES), v=lab_value(rng), u=rng.choice(UNITS),
                    spec=rng.choice(SPECIMENS))


def gen_mixed(rng):
    parts = []
    for _ in range(rng.randint(1, 12)):
        r = rng.random()
        if r < 0.25:
            parts.append(rng.choice(WORDS))
        elif r < 0.35:
            parts.append(rng.choice(LAB_NAMES))
        elif r < 0.45:
            parts.append(rng.choice(EMOJI))
        elif r < 0.55:
            parts.append(rng.choice(PUNCT) * rng.randint(1, 4))
        elif r < 0.62:
            parts.append(rng.choice(MULTILINGUAL))
        elif r < 0.70:
            parts.append(rng.choice(CONTROL))
        elif r < 0.78:
            parts.append(rng.choice(WORDS) + "".join(rng.choice(COMBINING)
                                                     for _ in range(rng.randint(1, 4))))
        elif r < 0.84:
            parts.append(rng.choice(SPECIAL_TOKENS))
        elif r < 0.92:
            parts.append("".join(rand_cp(rng) for _ in range(rng.randint(1, 6))))
        else:
            parts.append(rng.choice(UNITS))
    seps = [rng.choice(SPACES + [" "] * 20 + [""]) for _ in parts]
    return "".join(p + s for p, s in zip(parts, seps))


def gen_long_word(rng):
    n = rng.choice([98, 99, 100, 101, 102, 150, 300, 1000])
    kind = rng.randrange(6)
    if kind == 0:
        return "a" * n
    if kind == 1:
        return "".join(rng.choice("abcdefghijklmnopqrstuvwxyz") for _ in range(n))
    if kind == 2:  # 100 characters but many bytes
        return "é" * n
    if kind == 3:  # accents that lower-casing/stripping removes: length counts after it
        return "e\u0301" * (n // 2) + "x" * (n % 2)
    if kind == 4:
        return "Hemoglobin" * (n // 10) + " A1c"
    return "x" * n + "." + "y" * n


def gen_pathological(rng):
    choices = [
        lambda: "",
        lambda: " " * rng.randint(1, 50),
        lambda: rng.choice(SPACES) * rng.randint(1, 20),
        lambda: rng.choice(PUNCT) * rng.randint(2, 300),
        lambda: "".join(rng.choice(PUNCT) for _ in range(rng.randint(2, 200))),
        lambda: "a" + "".join(rng.choice(COMBINING) for _ in range(rng.randint(5, 60))),
        lambda: "".join(rng.choice(COMBINING) for _ in range(rng.randint(1, 30))),
        lambda: "".join(rng.choice(CONTROL) for _ in range(rng.randint(1, 30))),
        lambda: "".join(rng.choice(EMOJI) for _ in range(rng.randint(1, 30))),
        lambda: "".join(rand_cp(rng) for _ in range(rng.randint(1, 80))),
        lambda: "".join(rand_cp(rng) + " " for _ in range(rng.randint(1, 40))),
        lambda: "\ud800" + "abc" + "\udfff" + "x\udbff\udc00y",  # lone + valid pair
        lambda: "abc\udc00def " + rng.choice(WORDS),
        lambda: "".join(rng.choice(SPECIAL_TOKENS) for _ in range(rng.randint(1, 10))),
        lambda: rng.choice(SPECIAL_TOKENS) + rng.choice(WORDS) + rng.choice(SPECIAL_TOKENS),
        lambda: "##" + rng.choice(WORDS),
        lambda: rng.choice(WORDS) + "##" + rng.choice(WORDS),
        lambda: "中" * rng.randint(1, 300),
        lambda: "".join(chr(rng.randint(0x4E00, 0x9FFF)) for _ in range(rng.randint(1, 50))),
        lambda: "".join(chr(rng.randint(0xAC00, 0xD7A3)) for _ in range(rng.randint(1, 30))),
        lambda: "".join(chr(rng.randint(0x2B800, 0x2B93F)) for _ in range(rng.randint(1, 10))),
        lambda: " ".join(rng.choice(WORDS) for _ in range(rng.randint(300, 700))),
        lambda: " ".join(gen_lab(rng) for _ in range(rng.randint(60, 200))),
        lambda: "".join(rng.choice("0123456789.,-/") for _ in range(rng.randint(1, 120))),
        lambda: "\u0130" * rng.randint(1, 5) + " " + "I\u0307" + " " + "\u0131",
        lambda: "".join(chr(rng.randint(0x10D50, 0x10D65)) for _ in range(3)) + " Ꞌ ꟋꟌꟚꟜ Ᲊ",
    ]
    return rng.choice(choices)()


def gen_corpus(seed, count):
    rng = random.Random(seed)
    out = []
    # Fixed cases first, so they are always present whatever the count.
    out += LAB_NAMES
    out += MULTILINGUAL + EMOJI + PUNCT + SPECIAL_TOKENS + CONTROL + SPACES + COMBINING + WORDS
    out += ["", " ", "a", "A", "[CLS]", "Hemoglobin A1c", "HbA1c", "hba1c", "HBA1C",
            "a" * 100, "a" * 101, "é" * 100, "é" * 101, "x" * 99 + "\u0301",
            "Ⅻ", "ﬁ", "ŉ", "\u0344", "a\u0301\u0316\u0300", "a\u0316\u0301", "a\u05b0\u0301",
            "\u1e0b\u0323", "\u1e0d\u0307", "q\u0307\u0323", "\u00c5\u212b\u0041\u030a",
            "\uac00\ud7a3", "\u1100\u1161\u11a8", "\u0f73\u0f75\u0f81", "\U0001d15e\U0001d160"]
    makers = [(gen_lab, 30), (gen_sentence, 20), (gen_mixed, 30), (gen_long_word, 5),
              (gen_pathological, 15)]
    total = sum(w for _, w in makers)
    while len(out) < count:
        r = rng.randrange(total)
        for fn, w in makers:
            if r < w:
                out.append(fn(rng))
                break
            r -= w
    return out


def gen_sweep():
    """Every scalar value except surrogates, 64 per line, in two layouts."""
    cps = [c for c in range(0x110000) if not 0xD800 <= c <= 0xDFFF]
    out = []
    for i in range(0, len(cps), 64):
        block = [chr(c) for c in cps[i:i + 64]]
        out.append(" ".join("a" + ch + "b" for ch in block))
        out.append("".join(block))
    return out


def write_jsonl(path, items):
    with open(path, "w", encoding="utf-8", newline="\n") as f:
        for s in items:
            # Raw UTF-8 where possible; a string with a lone surrogate cannot be UTF-8, so it
            # is written with \\uXXXX escapes (still valid JSON).
            lone = any(0xD800 <= ord(ch) <= 0xDFFF for ch in s)
            f.write(json.dumps(s, ensure_ascii=lone) + "\n")


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--seed", type=int, default=20240601)
    ap.add_argument("--count", type=int, default=6000)
    ap.add_argument("--out", default="corpus.jsonl")
    ap.add_argument("--sweep", default=None, help="also write the code point sweep here")
    a = ap.parse_args()
    write_jsonl(a.out, gen_corpus(a.seed, a.count))
    if a.sweep:
        write_jsonl(a.sweep, gen_sweep())


if __name__ == "__main__":
    main()
