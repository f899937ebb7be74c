/* cli.h — shared helpers of the slm command: argument parsing, loading, messages. */
#ifndef SLM_CLI_H
#define SLM_CLI_H

#include <stdint.h>
#include <stdio.h>

#include "slm.h"

/* Exit codes: 0 ok, 1 runtime failure (bad file, ...), 2 usage error (bad flag or value). */
enum { EXIT_FAIL = 1, EXIT_USAGE = 2 };

/* Prints "slm CMD: message" to stderr. */
void cli_error(const char *cmd, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 2, 3)))
#endif
    ;

/* Iterates argv: cli_next(&a) returns the next argument or NULL. */
typedef struct cli_args {
    const char *cmd;
    int argc, i;
    char **argv;
    int failed; /* set by the parsers below on a usage error (message already printed) */
} cli_args;

const char *cli_next(cli_args *a);
/* The value of flag `flag` (the next argument); NULL + usage error if missing. */
const char *cli_value(cli_args *a, const char *flag);
int cli_int(cli_args *a, const char *flag, long lo, long hi);
double cli_double(cli_args *a, const char *flag, double lo, double hi);
uint64_t cli_u64(cli_args *a, const char *flag);
/* Context parameters with the environment applied: SLM_NO_SIMD (no_simd) and SLM_KERNELS (kernels). */
slm_ctx_params cli_ctx_params(void);
/* The sampling and context flags generate and chat share (--temp, --top-k, --top-p, --min-p,
 * --repeat-penalty, --repeat-last-n, -s/--seed, -t/--threads, -c/--ctx-size, --no-simd): returns 1
 * if `arg` was one of them (its value consumed), else 0. */
int cli_run_flag(cli_args *a, const char *arg, slm_sampler_params *sp, int *seed_given, slm_ctx_params *cp);
/* The token callback of generate and chat: writes the token's text to stdout as it comes. */
int cli_print_token(void *user, int32_t token, const char *text, size_t len);
/* Reports an unknown flag or unexpected argument. */
void cli_unknown(cli_args *a, const char *arg);
/* 1 if two names are equal ignoring ASCII case (type and format names: q4_K is q4_k). */
int cli_same_name(const char *a, const char *b);

/* The bundled default model's file name (models/ in the source tree, PREFIX/share/slm when installed). */
#define SLM_DEFAULT_MODEL "tinystories-slm.gguf"
/* `given`, else $SLM_MODEL, else the bundled model beside the executable or in ./models; NULL if none. */
const char *cli_model_path(const char *given);
/* Loads a model, printing the error; `mapped`: read in place, for commands that read it once
 * (slm_model_load_file_mapped). Returns NULL on failure. */
slm_model *cli_load_model(const char *cmd, const char *path, int mapped);
/* Loads the tokenizer at `path`, or if NULL looks beside the model for tokenizer.bin and
 * tok<vocab>.bin. Returns NULL (message printed) on failure. */
slm_tokenizer *cli_load_tokenizer(const char *cmd, const char *path, const char *model_path, int vocab_size);
/* Reads a whole file into a NUL-terminated malloc'd buffer. */
char *cli_read_file(const char *cmd, const char *path, size_t *len);
/* Writes bytes as a JSON string body (escaped). */
void cli_json_string(FILE *f, const char *s, size_t n);

/* Peak resident memory of this process in MiB (getrusage). */
double cli_peak_rss_mib(void);

int cmd_generate(int argc, char **argv);
int cmd_info(int argc, char **argv);
int cmd_score(int argc, char **argv);
int cmd_tokenize(int argc, char **argv);
int cmd_detokenize(int argc, char **argv);
int cmd_convert(int argc, char **argv);
int cmd_quantize(int argc, char **argv);
int cmd_init(int argc, char **argv);
int cmd_chat(int argc, char **argv);
int cmd_tokenizer(int argc, char **argv);
int cmd_data(int argc, char **argv);
int cmd_train(int argc, char **argv);

#endif
