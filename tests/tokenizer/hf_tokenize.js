#!/usr/bin/env node
// hf_tokenize.js - the oracle for mlworker's WordPiece tokenizer: Hugging Face `tokenizers`
// (npm package, the official binding of the Rust library) configured exactly as
// BertTokenizerFast.from_pretrained() configures a BERT checkpoint.
//
//   node hf_tokenize.js --vocab vocab.txt [--lower] [--strip-accents auto|yes|no]
//                       [--max-length N] [--pad-to N] [--mask] [--tokens] [--normalize]
//                       [--input corpus.jsonl] > out.txt
//
// Input: one JSON string per line. Output: one line per input, in the format of
// `mlworker tokenize --json` with the same options: ids separated by spaces (token strings
// with --tokens), then a tab and the attention mask with --mask; with --normalize, the
// normalizer's output as a JSON string.
//
// The tokenizer is built from a tokenizer.json document equal to what transformers writes for
// bert-base-cased / bert-base-uncased (and what BertConverter produces from a vocab.txt):
// BertNormalizer {clean_text: true, handle_chinese_chars: true, strip_accents: null,
// lowercase: do_lower_case}, BertPreTokenizer, WordPiece {unk "[UNK]", "##",
// max_input_chars_per_word 100}, template "[CLS] $A [SEP]", and the five special tokens as
// added tokens (special, normalized: false). strip_accents null (--strip-accents auto, the
// default, as on the Hub) means "same as lowercase"; yes/no set it as tokenizer_config.json
// strip_accents true/false does.
'use strict';

const fs = require('fs');
const path = require('path');

function loadTokenizers() {
  const here = path.resolve(__dirname, '..', 'node_modules', 'tokenizers');
  try {
    return require(here);
  } catch (e) {
    return require('tokenizers');
  }
}

function parseArgs(argv) {
  const a = { vocab: null, lower: false, strip: null, maxLength: 512, padTo: 0, mask: false,
              tokens: false, normalize: false, input: null };
  for (let i = 0; i < argv.length; i++) {
    const k = argv[i];
    if (k === '--vocab') a.vocab = argv[++i];
    else if (k === '--lower') a.lower = true;
    else if (k === '--strip-accents') a.strip = { auto: null, yes: true, no: false }[argv[++i]];
    else if (k === '--max-length') a.maxLength = parseInt(argv[++i], 10);
    else if (k === '--pad-to') a.padTo = parseInt(argv[++i], 10);
    else if (k === '--mask') a.mask = true;
    else if (k === '--tokens') a.tokens = true;
    else if (k === '--normalize') a.normalize = true;
    else if (k === '--input') a.input = argv[++i];
    else throw new Error(`unknown option ${k}`);
  }
  if (!a.vocab) throw new Error('--vocab is required');
  if (a.strip === undefined) throw new Error('--strip-accents takes auto, yes or no');
  return a;
}

// Rust's str::trim_end (White_Space), which tokenizers applies to each vocab.txt line.
const WS = new Set([0x09, 0x0a, 0x0b, 0x0c, 0x0d, 0x20, 0x85, 0xa0, 0x1680, 0x2000, 0x2001,
  0x2002, 0x2003, 0x2004, 0x2005, 0x2006, 0x2007, 0x2008, 0x2009, 0x200a, 0x2028, 0x2029,
  0x202f, 0x205f, 0x3000]);
function rustTrimEnd(s) {
  let end = s.length;
  while (end > 0 && WS.has(s.charCodeAt(end - 1))) end--;
  return s.slice(0, end);
}

function readVocab(file) {
  const text = fs.readFileSync(file, 'utf8');
  const lines = text.split('\n');
  if (lines.length && lines[lines.length - 1] === '') lines.pop();
  const vocab = {};
  lines.forEach((line, i) => { vocab[rustTrimEnd(line)] = i; }); // last line wins
  return vocab;
}

function tokenizerJson(vocab, lower, strip) {
  const specials = ['[PAD]', '[UNK]', '[CLS]', '[SEP]', '[MASK]'];
  const added = specials.filter((t) => t in vocab).sort((x, y) => vocab[x] - vocab[y])
    .map((t) => ({ id: vocab[t], content: t, single_word: false, lstrip: false, rstrip: false,
                   normalized: false, special: true }));
  const tok = (name) => ({ id: name, ids: [vocab[name]], tokens: [name] });
  return {
    version: '1.0',
    truncation: null,
    padding: null,
    added_tokens: added,
    normalizer: { type: 'BertNormalizer', clean_text: true, handle_chinese_chars: true,
                  strip_accents: strip, lowercase: lower },
    pre_tokenizer: { type: 'BertPreTokenizer' },
    post_processor: {
      type: 'TemplateProcessing',
      single: [{ SpecialToken: { id: '[CLS]', type_id: 0 } }, { Sequence: { id: 'A', type_id: 0 } },
               { SpecialToken: { id: '[SEP]', type_id: 0 } }],
      pair: [{ SpecialToken: { id: '[CLS]', type_id: 0 } }, { Sequence: { id: 'A', type_id: 0 } },
             { SpecialToken: { id: '[SEP]', type_id: 0 } }, { Sequence: { id: 'B', type_id: 1 } },
             { SpecialToken: { id: '[SEP]', type_id: 1 } }],
      special_tokens: { '[CLS]': tok('[CLS]'), '[SEP]': tok('[SEP]') },
    },
    decoder: { type: 'WordPiece', prefix: '##', cleanup: true },
    model: { type: 'WordPiece', unk_token: '[UNK]', continuing_subword_prefix: '##',
             max_input_chars_per_word: 100, vocab },
  };
}

async function main() {
  const args = parseArgs(process.argv.slice(2));
  const { Tokenizer } = loadTokenizers();
  const vocab = readVocab(args.vocab);
  const tokenizer = Tokenizer.fromString(JSON.stringify(tokenizerJson(vocab, args.lower,
                                                                             args.strip)));
  if (args.maxLength > 0) tokenizer.setTruncation(args.maxLength);
  if (args.padTo > 0) tokenizer.setPadding({ maxLength: args.padTo, padId: vocab['[PAD]'],
                                             padToken: '[PAD]' });

  const raw = fs.readFileSync(args.input || 0, 'utf8');
  const texts = raw.split('\n');
  if (texts.length && texts[texts.length - 1] === '') texts.pop();
  const inputs = texts.map((l, i) => {
    const v = JSON.parse(l);
    if (typeof v !== 'string') throw new Error(`line ${i + 1}: not a JSON string`);
    return v;
  });

  const out = [];
  if (args.normalize) {
    const normalizer = tokenizer.getNormalizer();
    for (const t of inputs) out.push(JSON.stringify(normalizer.normalizeString(t)));
  } else {
    const chunk = 2000;
    for (let i = 0; i < inputs.length; i += chunk) {
      const encs = await tokenizer.encodeBatch(inputs.slice(i, i + chunk));
      for (const e of encs) {
        let line = args.tokens ? e.getTokens().join(' ') : e.getIds().join(' ');
        if (args.mask) line += '\t' + e.getAttentionMask().join(' ');
        out.push(line);
      }
    }
  }
  out.push('');
  fs.writeFileSync(1, out.join('\n'));
}

main().catch((e) => {
  process.stderr.write(`hf_tokenize: ${e.stack || e}\n`);
  process.exit(1);
});
