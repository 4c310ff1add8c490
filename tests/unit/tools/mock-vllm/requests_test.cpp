#include "tools/mock-vllm/requests.hpp"
#include "tools/mock-vllm/responses.hpp"

#include <gtest/gtest.h>

namespace llmux::tools::mock_vllm {
namespace {

TEST(requests, chat_fields) {
  auto parsed = parse_generation_request(endpoint::chat, R"({"model":"m","messages":[
    {"role":"system","content":"Be brief."},
    {"role":"user","content":[{"type":"text","text":"Hi"}]}],
    "max_completion_tokens":5,"seed":9,"stream":true,"stream_options":{}})");
  ASSERT_TRUE(parsed) << parsed.error();
  EXPECT_EQ(parsed->model, "m");
  EXPECT_EQ(parsed->prompt, "system: Be brief.\nuser: Hi\n");
  EXPECT_EQ(parsed->max_tokens, 5u);
  EXPECT_EQ(parsed->seed, 9u);
  EXPECT_TRUE(parsed->stream);
  EXPECT_TRUE(parsed->include_usage); // stream_options present: vLLM's default is true
}

TEST(requests, completion_and_embedding_inputs) {
  auto completion = parse_generation_request(endpoint::completion, R"({"prompt":["a","b"]})");
  ASSERT_TRUE(completion);
  EXPECT_EQ(completion->prompt, "a\nb\n");
  EXPECT_FALSE(completion->max_tokens);
  auto embedding = parse_generation_request(endpoint::embedding, R"({"input":"x"})");
  ASSERT_TRUE(embedding);
  EXPECT_EQ(embedding->prompt, "x");
}

TEST(requests, malformed_bodies) {
  EXPECT_NE(parse_generation_request(endpoint::chat, "{").error().find("JSON decode error"),
            std::string::npos);
  EXPECT_NE(parse_generation_request(endpoint::chat, R"({"model":"m"})").error().find("messages"),
            std::string::npos);
  EXPECT_FALSE(parse_generation_request(endpoint::completion, R"({"prompt":3})"));
  EXPECT_EQ(parse_collective_rpc(R"({"method":"reload_weights"})").operator*(), "reload_weights");
  EXPECT_EQ(parse_collective_rpc("{}").error(), "Missing 'method' in request body");
}

TEST(requests, a_byte_order_mark_is_skipped_as_python_does) {
  auto chat = parse_generation_request(
    endpoint::chat,
    "\xEF\xBB\xBF{\"model\":\"m\",\"messages\":[{\"role\":\"user\",\"content\":\"hi\"}]}");
  ASSERT_TRUE(chat) << chat.error();
  EXPECT_EQ(chat->model, "m");
}

TEST(requests, audio_forms) {
  constexpr std::string_view type = "multipart/form-data; boundary=\"b\"";
  std::string form = "--b\r\nContent-Disposition: form-data; name=\"model\"\r\n\r\nfirst\r\n"
                     "--b\r\nContent-Disposition: form-data; name=model\r\n\r\nm\r\n"
                     "--b\r\nContent-Disposition: form-data; name=\"stream\"\r\n\r\nTrue\r\n"
                     "--b\r\ncontent-disposition: form-data; name=\"file\"; filename=\"a.wav\"\r\n"
                     "\r\nRIFF\r\n--c\r\n\r\n--b--\r\n";
  auto audio = parse_audio_request(endpoint::transcription, type, form);
  ASSERT_TRUE(audio) << audio.error();
  EXPECT_EQ(audio->model, "m"); // the last of a repeated field
  EXPECT_EQ(audio->prompt, "RIFF\r\n--c\r\n");
  EXPECT_TRUE(audio->stream);
  EXPECT_FALSE(audio->include_usage);
  EXPECT_EQ(audio->kind, endpoint::transcription);
  EXPECT_EQ(parse_audio_request(endpoint::translation, "application/json", "{}").error(),
            "the request must be a multipart/form-data form");
  std::string fileless = "--b\r\nContent-Disposition: form-data; name=file\r\n\r\nx\r\n--b--";
  EXPECT_EQ(parse_audio_request(endpoint::translation, type, fileless).error(),
            "'file' is required and must be an uploaded file");
}

TEST(responses, audio_shapes) {
  generation answer;
  answer.tokens = {"hello", " there"};
  EXPECT_EQ(audio_text_body(answer, 32001),
            R"({"text":"hello there","usage":{"type":"duration","seconds":2}})");
  answer_header header{"trsc-1", 5, "m"};
  EXPECT_EQ(content_chunk(header, endpoint::translation, "hi", ""),
            R"({"id":"trsc-1","object":"translation.chunk","created":5,"model":"m","choices":[)"
            R"({"index":0,"delta":{"content":"hi"},"logprobs":null,"finish_reason":null}]})");
}

TEST(responses, error_and_event_shapes) {
  EXPECT_EQ(error_body({404, "NotFoundError", "gone", "model"}),
            R"({"error":{"message":"gone","type":"NotFoundError","param":"model","code":404}})");
  EXPECT_EQ(error_body({400, "BadRequestError", "bad", ""}),
            R"({"error":{"message":"bad","type":"BadRequestError","param":null,"code":400}})");
  EXPECT_EQ(sse_event("[DONE]"), "data: [DONE]\n\n");
  answer_header header{"cmpl-1", 5, "m"};
  EXPECT_EQ(content_chunk(header, endpoint::completion, "hi", ""),
            R"({"id":"cmpl-1","object":"text_completion","created":5,"model":"m","choices":[)"
            R"({"index":0,"text":"hi","logprobs":null,"finish_reason":null}]})");
}

} // namespace
} // namespace llmux::tools::mock_vllm
