/*
 * tokenize_cmd.c - `mlworker tokenize`: the WordPiece tokenizer as a filter, for users and
 * for the parity test against Hugging Face tokenizers.
 *
 *   mlworker tokenize --vocab FILE [--lower] [--strip-accents auto|yes|no] [--max-length N]
 *                     [--pad-to N] [--mask] [--tokens] [--normalize] [--json]
 *
 * Reads one text per line from stdin (the line without its '\n'); with --json each line is a
 * JSON string literal instead, so texts can hold newlines, NUL and any other character.
 * Prints one line per input: the ids separated by spaces; with --mask, a tab and the
 * attention mask; with --tokens, the token strings instead of ids; with --normalize, the
 * normalizer's output (as a JSON string) instead of tokens.
 */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ml/tokenizer.h"

static void usage(FILE *f)
{
    fputs("usage: mlworker tokenize --vocab FILE [options] < texts\n"
          "  --vocab FILE          WordPiece vocabulary (vocab.txt)\n"
          "  --lower               lower-case (do_lower_case=true; also strips accents)\n"
          "  --strip-accents MODE  auto (follow --lower, the default), yes or no\n"
          "  --no-chinese-chars    do not put spaces around CJK ideographs\n"
          "  --max-length N        truncate to N ids including [CLS]/[SEP] (default 512;\n"
          "                        0 = no truncation)\n"
          "  --pad-to N            pad with [PAD] to N ids\n"
          "  --mask                also print the attention mask, after a tab\n"
          "  --tokens              print token strings instead of ids\n"
          "  --normalize           print the normalized text (JSON string) instead\n"
          "  --json                each input line is a JSON string literal\n"
          "Prints one line per input line.\n",
          f);
}

static int parse_size(const char *s, size_t *out)
{
    char *end;
    errno = 0;
    unsigned long long v = strtoull(s, &end, 10);
    if (errno || end == s || *end != '\0' || s[0] == '-' || v > (unsigned long long)INT_MAX)
        return -1;
    *out = (size_t)v;
    return 0;
}

static int hexval(int c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

static int read_hex4(const char *s, size_t len, size_t i, unsigned *out)
{
    if (len - i < 4)
        return -1;
    unsigned v = 0;
    for (size_t k = 0; k < 4; k++) {
        int h = hexval((unsigned char)s[i + k]);
        if (h < 0)
            return -1;
        v = v * 16 + (unsigned)h;
    }
    *out = v;
    return 0;
}

static size_t put_utf8(unsigned c, char *o)
{
    if (c < 0x80) {
        o[0] = (char)c;
        return 1;
    }
    if (c < 0x800) {
        o[0] = (char)(0xC0 | (c >> 6));
        o[1] = (char)(0x80 | (c & 0x3F));
        return 2;
    }
    if (c < 0x10000) {
        o[0] = (char)(0xE0 | (c >> 12));
        o[1] = (char)(0x80 | ((c >> 6) & 0x3F));
        o[2] = (char)(0x80 | (c & 0x3F));
        return 3;
    }
    o[0] = (char)(0xF0 | (c >> 18));
    o[1] = (char)(0x80 | ((c >> 12) & 0x3F));
    o[2] = (char)(0x80 | ((c >> 6) & 0x3F));
    o[3] = (char)(0x80 | (c & 0x3F));
    return 4;
}

/*
 * Decode a JSON string literal (surrounding whitespace allowed) from s[0..len) in place into
 * s, which it never outgrows. \u0000 is kept as a NUL byte; a lone UTF-16 surrogate becomes
 * U+FFFD, as when JavaScript hands such a string to native code. Returns the decoded length,
 * or -1 when the line is not a JSON string.
 */
static long json_unquote(char *s, size_t len)
{
    size_t i = 0, o = 0;
    while (i < len && (s[i] == ' ' || s[i] == '\t' || s[i] == '\r'))
        i++;
    if (i >= len || s[i] != '"')
        return -1;
    i++;
    for (;;) {
        if (i >= len)
            return -1;
        unsigned char c = (unsigned char)s[i];
        if (c == '"')
            break;
        if (c < 0x20)
            return -1;
        if (c != '\\') {
            s[o++] = (char)c;
            i++;
            continue;
        }
        if (++i >= len)
            return -1;
        char e = s[i++];
        unsigned u;
        switch (e) {
        case '"': s[o++] = '"'; break;
        case '\\': s[o++] = '\\'; break;
        case '/': s[o++] = '/'; break;
        case 'b': s[o++] = '\b'; break;
        case 'f': s[o++] = '\f'; break;
        case 'n': s[o++] = '\n'; break;
        case 'r': s[o++] = '\r'; break;
        case 't': s[o++] = '\t'; break;
        case 'u':
            if (read_hex4(s, len, i, &u) != 0)
                return -1;
            i += 4;
            if (u >= 0xD800 && u <= 0xDBFF) {
                unsigned lo;
                if (len - i >= 6 && s[i] == '\\' && s[i + 1] == 'u' &&
                    read_hex4(s, len, i + 2, &lo) == 0 && lo >= 0xDC00 && lo <= 0xDFFF) {
                    i += 6;
                    u = 0x10000 + ((u - 0xD800) << 10) + (lo - 0xDC00);
                } else {
                    u = 0xFFFD;
                }
            } else if (u >= 0xDC00 && u <= 0xDFFF) {
                u = 0xFFFD;
            }
            /* 6 or 12 input bytes always cover the at most 4 output bytes */
            o += put_utf8(u, s + o);
            break;
        default:
            return -1;
        }
    }
    i++;
    while (i < len && (s[i] == ' ' || s[i] == '\t' || s[i] == '\r'))
        i++;
    if (i != len)
        return -1;
    return (long)o;
}

static void print_json_string(FILE *f, const char *s, size_t len)
{
    fputc('"', f);
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c == '"' || c == '\\')
            fprintf(f, "\\%c", c);
        else if (c < 0x20)
            fprintf(f, "\\u%04x", c);
        else
            fputc(c, f);
    }
    fputc('"', f);
}

int cmd_tokenize(int argc, char **argv)
{
    const char *vocab = NULL;
    struct tokenizer_opts opts;
    size_t max_len = TOKENIZER_DEFAULT_MAX_LEN, pad_to = 0;
    int json = 0, mask = 0, tokens = 0, normalize = 0;
    tokenizer_opts_init(&opts);

    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        const char *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0) {
            usage(stdout);
            return 0;
        } else if (strcmp(a, "--vocab") == 0 && v) {
            vocab = v;
            i++;
        } else if (strcmp(a, "--lower") == 0) {
            opts.lowercase = 1;
        } else if (strcmp(a, "--strip-accents") == 0 && v) {
            if (strcmp(v, "auto") == 0)
                opts.strip_accents = TOKENIZER_STRIP_ACCENTS_AUTO;
            else if (strcmp(v, "yes") == 0)
                opts.strip_accents = 1;
            else if (strcmp(v, "no") == 0)
                opts.strip_accents = 0;
            else {
                fprintf(stderr, "tokenize: --strip-accents takes auto, yes or no\n");
                return 2;
            }
            i++;
        } else if (strcmp(a, "--no-chinese-chars") == 0) {
            opts.handle_chinese_chars = 0;
        } else if (strcmp(a, "--max-length") == 0 && v) {
            if (parse_size(v, &max_len) != 0 || max_len == 1) {
                fprintf(stderr, "tokenize: --max-length must be 0 or 2..%d\n", INT_MAX);
                return 2;
            }
            i++;
        } else if (strcmp(a, "--pad-to") == 0 && v) {
            if (parse_size(v, &pad_to) != 0) {
                fprintf(stderr, "tokenize: bad --pad-to %s\n", v);
                return 2;
            }
            i++;
        } else if (strcmp(a, "--mask") == 0) {
            mask = 1;
        } else if (strcmp(a, "--tokens") == 0) {
            tokens = 1;
        } else if (strcmp(a, "--normalize") == 0) {
            normalize = 1;
        } else if (strcmp(a, "--json") == 0) {
            json = 1;
        } else {
            fprintf(stderr, "tokenize: unknown or incomplete option %s\n", a);
            usage(stderr);
            return 2;
        }
    }
    if (vocab == NULL) {
        fprintf(stderr, "tokenize: --vocab FILE is required\n");
        usage(stderr);
        return 2;
    }

    struct mlw_err err = {0};
    struct tokenizer *tok = NULL;
    if (tokenizer_load_vocab(vocab, &opts, &tok, &err) != MLW_OK) {
        fprintf(stderr, "tokenize: %s\n", err.msg);
        return 1;
    }

    int status = 0;
    char *line = NULL;
    size_t line_cap = 0, cap = 0, lineno = 0;
    int32_t *ids = NULL;
    uint8_t *m = NULL;
    ssize_t got;
    while ((got = getline(&line, &line_cap, stdin)) >= 0) {
        size_t len = (size_t)got;
        lineno++;
        if (len > 0 && line[len - 1] == '\n')
            len--;
        if (json) {
            long k = json_unquote(line, len);
            if (k < 0) {
                fprintf(stderr, "tokenize: line %zu: not a JSON string\n", lineno);
                status = 1;
                break;
            }
            len = (size_t)k;
        }
        if (normalize) {
            char *norm = NULL;
            size_t nlen = 0;
            mlw_err_clear(&err);
            if (tokenizer_normalize(&opts, line, len, &norm, &nlen, &err) != MLW_OK) {
                fprintf(stderr, "tokenize: line %zu: %s\n", lineno, err.msg);
                status = 1;
                break;
            }
            print_json_string(stdout, norm, nlen);
            fputc('\n', stdout);
            free(norm);
            continue;
        }
        size_t n = 0, n_real = 0;
        int rc;
        for (;;) {
            mlw_err_clear(&err);
            rc = tokenizer_encode_padded(tok, line, len, max_len, pad_to, ids, m, cap, &n,
                                         &n_real, &err);
            if (rc != MLW_EINVAL || n <= cap)
                break;
            /* Too small: grow to what it asked for and retry. */
            int32_t *ni = realloc(ids, n * sizeof *ids);
            if (ni == NULL) {
                rc = mlw_err_set(&err, MLW_ENOMEM, "out of memory");
                break;
            }
            ids = ni;
            uint8_t *nm = realloc(m, n);
            if (nm == NULL) {
                rc = mlw_err_set(&err, MLW_ENOMEM, "out of memory");
                break;
            }
            m = nm;
            cap = n;
            mlw_err_clear(&err);
        }
        if (rc != MLW_OK) {
            fprintf(stderr, "tokenize: line %zu: %s\n", lineno, err.msg);
            status = 1;
            break;
        }
        for (size_t k = 0; k < n; k++) {
            if (k)
                fputc(' ', stdout);
            if (tokens)
                fputs(tokenizer_id_to_token(tok, ids[k]), stdout);
            else
                fprintf(stdout, "%d", (int)ids[k]);
        }
        if (mask) {
            fputc('\t', stdout);
            for (size_t k = 0; k < n; k++)
                fputs(k ? (m[k] ? " 1" : " 0") : (m[k] ? "1" : "0"), stdout);
        }
        fputc('\n', stdout);
    }
    if (status == 0 && ferror(stdin)) {
        fprintf(stderr, "tokenize: reading stdin: %s\n", strerror(errno));
        status = 1;
    }
    if (fflush(stdout) != 0 && status == 0) {
        fprintf(stderr, "tokenize: writing stdout: %s\n", strerror(errno));
        status = 1;
    }
    free(line);
    free(ids);
    free(m);
    tokenizer_free(tok);
    return status;
}
