/* tests.h — the list of all tests, in the order they run. */
#ifndef SLM_TESTS_H
#define SLM_TESTS_H

typedef struct test_case {
    const char *name;
    void (*fn)(void);
} test_case;

extern const test_case all_tests[];

#define TESTS(X)                                      \
    X(kernels_simd_matvec_f32_matches_scalar)         \
    X(kernels_simd_matvec_q8_bit_exact)               \
    X(kernels_simd_attention_matches_scalar)          \
    X(kernels_simd_swiglu_rmsnorm_match_scalar)       \
    X(kernels_f16_bf16_conversions_and_matvec)        \
    X(kernels_block_quant_types)                      \
    X(utf8_validation_and_stream_never_splits)        \
    X(golden_stories260K_greedy_library)              \
    X(golden_stories260K_greedy_cli)                  \
    X(refcases_logits_and_greedy_match_pytorch)       \
    X(refcases_cli_logits_out_matches_reference)      \
    X(block_repeat_matches_expanded_reference)        \
    X(llama2c_v0_v1_identical_logits)                 \
    X(model_load_from_memory_block)                   \
    X(gguf_writer_round_trips_logits)                 \
    X(gguf_quantized_writer_round_trip)               \
    X(quantize_plan_follows_the_rules)                \
    X(quantize_cli_measures_the_loss)                 \
    X(quantize_cli_rejects_bad_input)                 \
    X(prefill_batches_match_token_by_token)           \
    X(gguf_with_tokenizer_runs_golden_story)          \
    X(gguf_llamacpp_kquants_dequantize_to_source)     \
    X(rope_half_split_matches_interleaved)            \
    X(hf_safetensors_folders_match_original)          \
    X(qwen2_biases_through_gguf_and_hf)               \
    X(gguf_corrupt_files_rejected)                    \
    X(llama2c_q80_stories260K_greedy_and_logprob)     \
    X(llama2c_q80_group_size_must_divide_rows)        \
    X(threads_1_and_2_identical_logits)               \
    X(split_choice_changes_nothing_follows_times)     \
    X(split_shares_change_nothing_follow_speeds)      \
    X(pool_ready_after_nudge)                         \
    X(packed_rows_change_nothing)                     \
    X(kernels_bf16_batch_matches_decode_and_reference) \
    X(file_matrices_resident_change_nothing)          \
    X(ctx_caller_memory_and_plan)                     \
    X(kv_cache_f16_option)                            \
    X(ctx_several_contexts_share_a_model)             \
    X(eval_rejects_bad_positions_and_ids)             \
    X(generate_prompt_longer_than_context_errors)     \
    X(sampler_seeded_and_greedy)                      \
    X(tokenizer_spm_exact_on_corpus)                  \
    X(tokenizer_llama_spm_vectors)                    \
    X(tokenizer_bpe_vectors)                          \
    X(tokenizer_json_byte_level)                      \
    X(tokenizer_json_sentencepiece_style)             \
    X(tokenizer_roundtrip_and_decode)                 \
    X(tokenizer_100kb_prompt)                         \
    X(chat_templates_render_expected_text)            \
    X(chat_encode_specials_as_ids)                    \
    X(chat_cli_keeps_the_conversation)                \
    X(bpe_train_reproduces_reference)                 \
    X(cli_tokenizer_train)                            \
    X(spm_train_byte_fallback_round_trips)            \
    X(tokenizer_train_same_for_1_2_3_threads)         \
    X(tokenizer_train_same_for_any_chunk_size)        \
    X(bpe_merger_matches_full_recount_and_tie_order)  \
    X(cli_tokenizer_train_threads_progress_quiet)     \
    X(data_prepare_token_files)                       \
    X(data_prepare_same_file_for_any_thread_count_and_chunk_size) \
    X(data_prepare_documents_across_chunk_boundaries) \
    X(data_prepare_cuts_long_documents_at_paragraphs_then_characters) \
    X(data_prepare_jsonl_errors_name_the_line)        \
    X(data_prepare_empty_input_adds_nothing)          \
    X(data_prepare_cli_threads_progress_quiet)        \
    X(corrupt_model_files_rejected)                   \
    X(corrupt_tokenizer_files_rejected)               \
    X(cli_rejects_bad_flags)                          \
    X(cli_info_tokenize_score)                        \
    X(cli_init_convert_roundtrip)                     \
    X(example_program_generates)                      \
    X(bench_targets_checker)                          \
    X(gemm_matches_naive_product_every_kernel)        \
    X(gemm_wt_matches_naive_product_every_kernel)     \
    X(gemm_avx512_same_bytes_as_avx2)                 \
    X(gemm_micro12_same_bytes_as_two_micro6)          \
    X(kernels_dequant_row_bit_exact)                  \
    X(kernels_matvec_bq_bit_exact)                    \
    X(kernels_matvec_bq8_bit_exact)                   \
    X(kernels_matmat_bq8_same_bytes_as_matvec)        \
    X(kernels_simd_training_primitives_match_scalar)  \
    X(trainer_matches_pytorch_reference)              \
    X(trainer_gradients_match_finite_differences)     \
    X(trainer_thread_count_never_changes_results)     \
    X(train_lr_schedule_and_config)                   \
    X(train_cli_resume_after_kill_is_bit_exact)       \
    X(train_cli_ctrl_c_saves_and_resumes)             \
    X(train_cli_outputs_load_everywhere)              \
    X(train_cli_rejects_bad_input)                    \
    X(bundled_model_is_the_default)

#define DECLARE(name) void name(void);
TESTS(DECLARE)
#undef DECLARE

#endif
