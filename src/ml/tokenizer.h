/*
 * tokenizer.h - BERT WordPiece tokenizer, id-for-id compatible with Hugging Face `tokenizers`.
 *
 * What it reproduces: the tokenizer that `BertTokenizerFast.from_pretrained()` builds for a
 * BERT model (tokenizer.json as published on the Hub, or converted from vocab.txt):
 *
 *   raw text
 *     -> special tokens [PAD] [UNK] [CLS] [SEP] [MASK] found verbatim in the raw text are kept
 *        whole (they are "added tokens" with normalized=false in tokenizers)
 *     -> BertNormalizer: clean text (drop U+0000, U+FFFD and control/format/private-use
 *        characters; \t \n \r and every other White_Space character become ' '),
 *        spaces around CJK ideographs, strip accents (NFD, then drop Mn), lowercase
 *     -> BertPreTokenizer: split on whitespace, isolate every punctuation character
 *     -> WordPiece: greedy longest match first, "##" continuation prefix; a word longer than
 *        max_input_chars_per_word characters, or with any piece not in the vocabulary,
 *        becomes one [UNK]
 *     -> [CLS] tokens [SEP], truncated on the right to max_len ids (specials included)
 *
 * Unicode: character categories come from libutf8proc, adjusted to the (older) tables that
 * tokenizers itself uses, so results match on every code point; see tokenizer.c.
 *
 * Invalid UTF-8: tokenizers only ever sees valid Unicode (its bindings take host-language
 * strings), so there is no reference behaviour for broken bytes. Here every invalid or
 * truncated sequence decodes to U+FFFD, which the clean-text step then drops: "a\xffb" is
 * tokenized like "ab". Never an error, never a crash.
 *
 * Threads: a loaded tokenizer is read-only; any number of threads may call tokenizer_encode()
 * on it at once. Each call allocates scratch memory proportional to the input and frees it.
 */
#ifndef MLW_TOKENIZER_H
#define MLW_TOKENIZER_H

#include <stddef.h>
#include <stdint.h>

#include "core/err.h"

#define TOKENIZER_STRIP_ACCENTS_AUTO (-1) /* strip accents iff lowercase (tokenizers' default) */
#define TOKENIZER_MAX_CHARS_PER_WORD 100  /* WordPiece max_input_chars_per_word default */
#define TOKENIZER_DEFAULT_MAX_LEN 512     /* model_max_length of BERT checkpoints */

/* Settings, as in tokenizer_config.json. Fill with tokenizer_opts_init(), then change fields. */
struct tokenizer_opts {
    int lowercase;                /* do_lower_case; default 0 (cased) */
    int strip_accents;            /* 0, 1 or TOKENIZER_STRIP_ACCENTS_AUTO (default) */
    int handle_chinese_chars;     /* tokenize_chinese_chars; default 1 */
    int match_special_tokens;     /* keep [CLS] etc. found in the raw text whole; default 1 */
    size_t max_input_chars_per_word; /* longer words are [UNK]; 0 = default (100) */
};

struct tokenizer; /* opaque: vocabulary hash table and settings */

/* Default settings: cased BERT (lowercase 0, strip accents auto, CJK spacing on). */
void tokenizer_opts_init(struct tokenizer_opts *opts); /* OUT */

/*
** Load a WordPiece vocabulary (vocab.txt: one token per line, id = 0-based line number;
** trailing whitespace of a line is not part of the token; a token listed twice maps to its
** last line). The vocabulary must contain [UNK], [CLS] and [SEP].
** Returns MLW_OK and sets *out. On failure *out is NULL and err says why: MLW_EIO or
** MLW_ENOTFOUND (file), MLW_EFORMAT (missing special token, empty or oversized file),
** MLW_EINVAL (bad opts), MLW_ENOMEM.
*/
int tokenizer_load_vocab(const char *path,                  /* vocab.txt */
                         const struct tokenizer_opts *opts, /* NULL = defaults */
                         struct tokenizer **out,            /* OUT: free with tokenizer_free() */
                         struct mlw_err *err);              /* OUT: detail; may be NULL */

/* Same as tokenizer_load_vocab() from a buffer holding the file's bytes (copied). */
int tokenizer_load_vocab_mem(const char *data, size_t len, const struct tokenizer_opts *opts,
                             struct tokenizer **out, struct mlw_err *err);

/* Release everything; NULL is a no-op. */
void tokenizer_free(struct tokenizer *tok);

/*
** Tokenize one text into [CLS] ... [SEP] ids.
** max_len: most ids to return, counting [CLS] and [SEP] (>= 2); tokens past max_len - 2 are
** dropped (right truncation, as tokenizers with truncation=max_length). 0 = no truncation.
** Writes *n_out ids to out_ids. If they do not fit in out_cap, returns MLW_EINVAL and sets
** *n_out to the count needed. Text may hold any bytes, NUL included (see invalid UTF-8 above).
** Returns MLW_OK, MLW_EINVAL (max_len 1, or out_cap too small) or MLW_ENOMEM.
*/
int tokenizer_encode(const struct tokenizer *tok, /* from tokenizer_load_vocab() */
                     const char *text,            /* UTF-8, need not be NUL-terminated */
                     size_t len,                  /* bytes of text */
                     size_t max_len,              /* truncation limit incl. specials; 0 = none */
                     int32_t *out_ids,            /* OUT: caller array of out_cap ids */
                     size_t out_cap,              /* capacity of out_ids */
                     size_t *n_out,               /* OUT: ids written (or needed) */
                     struct mlw_err *err);        /* OUT: detail on failure; may be NULL */

/*
** tokenizer_encode(), then pad with [PAD] up to pad_to ids (as tokenizers' fixed-length
** padding on the right) and write the attention mask: 1 for each real id ([CLS] and [SEP]
** included), 0 for padding. pad_to 0 = no padding. out_ids and out_mask both hold out_cap
** entries; *n_out = ids written including padding, *n_real = ids before padding (may be NULL).
** A vocabulary without [PAD] gives MLW_EINVAL when padding is needed.
*/
int tokenizer_encode_padded(const struct tokenizer *tok, const char *text, size_t len,
                            size_t max_len, size_t pad_to,
                            int32_t *out_ids,   /* OUT: out_cap entries */
                            uint8_t *out_mask,  /* OUT: out_cap entries */
                            size_t out_cap, size_t *n_out, size_t *n_real,
                            struct mlw_err *err);

/*
** The normalizer alone (tokenizers' Normalizer.normalize_str): clean text, CJK spacing,
** accents, case, per opts. For tests and debugging.
** On MLW_OK *out is a NUL-terminated UTF-8 string of *out_len bytes; caller frees with free().
*/
int tokenizer_normalize(const struct tokenizer_opts *opts, const char *text, size_t len,
                        char **out,      /* OUT: caller frees with free() */
                        size_t *out_len, /* OUT: may be NULL */
                        struct mlw_err *err);

/* The token string of id, or NULL when id is out of range. Valid while tok lives. */
const char *tokenizer_id_to_token(const struct tokenizer *tok, int32_t id);

/* The id of an exact vocabulary entry, or -1. */
int32_t tokenizer_token_to_id(const struct tokenizer *tok, const char *token, size_t len);

/* Number of ids (lines of vocab.txt). */
size_t tokenizer_vocab_size(const struct tokenizer *tok);

/* Ids of the special tokens ([PAD] is -1 when the vocabulary has none). */
int32_t tokenizer_cls_id(const struct tokenizer *tok);
int32_t tokenizer_sep_id(const struct tokenizer *tok);
int32_t tokenizer_unk_id(const struct tokenizer *tok);
int32_t tokenizer_pad_id(const struct tokenizer *tok);

/*
** `mlworker tokenize --vocab FILE [--lower] [--max-length N] [--json] ...`: read one text per
** line from stdin, print its ids, space-separated, one line per input. See tokenize_cmd.c.
** Returns the process exit status (0 ok, 1 input error, 2 usage).
*/
int cmd_tokenize(int argc, char **argv);

#endif
