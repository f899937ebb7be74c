/* main.c — the slm command: dispatch to subcommands. */
#include <string.h>

#include "cli.h"

static const char USAGE[] =
    "slm " SLM_VERSION " — run small language models\n"
    "\n"
    "usage: slm COMMAND [options]     (slm COMMAND --help for its options)\n"
    "\n"
    "commands:\n"
    "  generate    generate text from a prompt, streamed to stdout\n"
    "  chat        an interactive conversation (chat templates, KV cache kept across turns)\n"
    "  score       per-token log-probabilities, perplexity and bits per byte of a text\n"
    "  info        a model's format, config, parameters and memory needs\n"
    "  tokenize    text -> token ids (or pieces)\n"
    "  detokenize  token ids -> text\n"
    "  convert     write a model in another format (llama2.c v0 / v1 / v2 Q8_0; GGUF f32 / f16 / bf16 /\n"
    "              q8_0 / q4_0 / q4_1 / q5_0 / q5_1 / iq4_nl / q3_k / q4_k / q5_k / q6_k)\n"
    "  quantize    write a model with quantized matrices and measure what it lost (perplexity, KL)\n"
    "  init        create a model with random weights (for benchmarks and tests)\n"
    "  tokenizer   tokenizer train: byte-level or SentencePiece-style BPE from text files\n"
    "  data        data prepare / info: token files for training\n"
    "  train       train a model on a token file (checkpoints, exact resume, GGUF out)\n"
    "\n"
    "Models: llama2.c checkpoints (.bin v0, v1, v2/Q8_0) with a tokenizer.bin or tokenizer.model; GGUF\n"
    "(arch llama, qwen2; F32/F16/BF16/Q8_0/Q4_0/Q4_1/Q5_0/Q5_1/IQ4_NL/Q3_K/Q4_K/Q5_K/Q6_K; the tokenizer\n"
    "from its metadata); Hugging Face folders (config.json + safetensors, with tokenizer.json or\n"
    "tokenizer.model).\n"
    "Environment: SLM_NO_SIMD=1 forces the portable scalar kernels; SLM_KERNELS=NAME picks a kernel\n"
    "table (scalar, avx2, avx512, avx512bf16, neon) where the CPU has it.\n";

int main(int argc, char **argv) {
    if (argc < 2) {
        fputs(USAGE, stderr);
        return EXIT_USAGE;
    }
    const char *c = argv[1];
    if (!strcmp(c, "--help") || !strcmp(c, "-h") || !strcmp(c, "help")) {
        fputs(USAGE, stdout);
        return 0;
    }
    if (!strcmp(c, "--version")) {
        puts("slm " SLM_VERSION);
        return 0;
    }
    static const struct {
        const char *name;
        int (*fn)(int, char **);
    } cmds[] = {{"generate", cmd_generate}, {"score", cmd_score},       {"info", cmd_info},
                {"tokenize", cmd_tokenize}, {"detokenize", cmd_detokenize}, {"convert", cmd_convert},
                {"quantize", cmd_quantize},
                {"init", cmd_init}, {"chat", cmd_chat}, {"tokenizer", cmd_tokenizer}, {"data", cmd_data}, {"train", cmd_train}};
    for (size_t i = 0; i < sizeof cmds / sizeof cmds[0]; i++)
        if (!strcmp(c, cmds[i].name)) return cmds[i].fn(argc - 2, argv + 2);
    cli_error(NULL, "unknown command '%s' (see slm --help)", c);
    return EXIT_USAGE;
}
