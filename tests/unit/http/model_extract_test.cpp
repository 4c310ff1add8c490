#include "http/model_extract.hpp"

#include <gtest/gtest.h>

namespace llmux::http {
namespace {

TEST(find_model, reads_the_body_model_and_its_byte_range) {
  std::string body = R"({"messages":[],"model" : "qwen-7b"  ,"stream":true})";
  auto found = find_model("", "application/json", body);
  EXPECT_EQ(found.model, "qwen-7b");
  ASSERT_TRUE(found.body_span);
  EXPECT_EQ(body.substr(found.body_span->first, found.body_span->second), R"("qwen-7b")");
  EXPECT_TRUE(found.error.empty());
}

TEST(find_model, header_wins_over_the_body) {
  std::string body = R"({"model":"a"})";
  auto found = find_model("b", "application/json", body);
  EXPECT_EQ(found.model, "b");
  EXPECT_TRUE(found.body_span); // the body's model is still rewritten
}

TEST(find_model, header_alone_needs_no_json_body) {
  std::string body = "not json at all";
  auto found = find_model("m", "application/json", body);
  EXPECT_EQ(found.model, "m");
  EXPECT_TRUE(found.error.empty());
  EXPECT_FALSE(found.body_span);
}

TEST(find_model, bad_bodies_without_a_header) {
  std::string not_json = "{oops";
  EXPECT_FALSE(find_model("", "application/json", not_json).error.empty());
  std::string array = "[1,2]";
  EXPECT_EQ(find_model("", "application/json", array).error,
            "the request body is not a JSON object");
  std::string number = R"({"model":7})";
  EXPECT_EQ(find_model("", "application/json", number).error,
            "the request body's \"model\" must be a string");
  std::string none = R"({"messages":[]})";
  auto missing = find_model("", "application/json", none);
  EXPECT_TRUE(missing.model.empty());
  EXPECT_TRUE(missing.error.empty());
  std::string empty;
  EXPECT_TRUE(find_model("", "application/json", empty).model.empty());
}

TEST(find_model, a_utf8_byte_order_mark_is_read_past_as_the_engine_does) {
  std::string body = "\xEF\xBB\xBF{\"model\":\"a\",\"stream\":true}";
  auto found = find_model("", "application/json", body);
  EXPECT_EQ(found.model, "a");
  ASSERT_TRUE(found.body_span);
  EXPECT_EQ(body.substr(found.body_span->first, found.body_span->second), "\"a\"");
  EXPECT_TRUE(found.stream);
  std::string rewritten = spliced_body(body, *found.body_span, "org/a").joined();
  EXPECT_EQ(rewritten, "\xEF\xBB\xBF{\"model\":\"org/a\",\"stream\":true}");
}

TEST(find_model, escaped_names_are_unescaped) {
  std::string body = R"({"model":"org\/name"})";
  EXPECT_EQ(find_model("", "application/json", body).model, "org/name");
}

TEST(find_model, header_must_be_visible_ascii) {
  std::string body = R"({"model":"a"})";
  EXPECT_EQ(find_model("bad name", "application/json", body).model, "a");
}

TEST(find_model, the_last_model_counts_as_the_engine_reads_it) {
  std::string twice = R"({"model":"a","x":{"model":"inner"},"model" : "b" })";
  auto found = find_model("", "application/json", twice);
  EXPECT_EQ(found.model, "b");
  ASSERT_TRUE(found.body_span);
  EXPECT_EQ(twice.substr(found.body_span->first, found.body_span->second), R"("b")");
  std::string string_last = R"({"model":7,"model":[1,{"a":2}],"model":"c"})";
  EXPECT_EQ(find_model("", "application/json", string_last).model, "c");
  std::string number_last = R"({"model":"c","model":{"a":1}})";
  EXPECT_EQ(find_model("", "application/json", number_last).error,
            "the request body's \"model\" must be a string");
  // A later key spelled with an escape counts too.
  std::string escaped_later = R"({"model":"a","messages":[],"mod\u0065l":"b"})";
  EXPECT_EQ(find_model("", "application/json", escaped_later).model, "b");
  // Read to its end, a body broken after its model is refused here.
  std::string broken_after = R"({"model":"a" "x":1})";
  EXPECT_FALSE(find_model("", "application/json", broken_after).error.empty());
  // A "model" inside a string is no key.
  std::string quoted = R"({"model":"a","messages":[{"content":"say \"model\""}]})";
  EXPECT_EQ(find_model("", "application/json", quoted).model, "a");
}

// The openai npm client's audio.transcriptions.create, model first and file last.
constexpr std::string_view transcription_type = "multipart/form-data; boundary=XyZ";
constexpr std::string_view transcription
  = "--XyZ\r\nContent-Disposition: form-data; name=\"model\"\r\n\r\nwhisper\r\n"
    "--XyZ\r\nContent-Disposition: form-data; name=\"stream\"\r\n\r\nTrue\r\n"
    "--XyZ\r\nContent-Disposition: form-data; name=\"file\"; filename=\"a.wav\"\r\n"
    "Content-Type: audio/wav\r\n\r\n{\"model\":\"not this\"}\r\n--XyZ--\r\n";

TEST(find_model, reads_a_forms_model_field) {
  std::string body(transcription);
  auto found = find_model("", transcription_type, body);
  EXPECT_EQ(found.model, "whisper");
  EXPECT_TRUE(found.error.empty());
  ASSERT_TRUE(found.body_span);
  EXPECT_EQ(found.encoding, value_encoding::raw);
  EXPECT_EQ(body.substr(found.body_span->first, found.body_span->second), "whisper");
  EXPECT_TRUE(found.stream);
  // Rewritten in place, the form names the engine's model.
  spliced_body spliced(body, *found.body_span, "openai/whisper-large-v3", found.encoding);
  auto rewritten = spliced.joined();
  EXPECT_EQ(find_model("", transcription_type, rewritten).model, "openai/whisper-large-v3");
  EXPECT_EQ(rewritten.size(), spliced.size());
  EXPECT_EQ(rewritten.size(), body.size() - 7 + 23);
}

TEST(find_model, forms_without_a_model_or_with_a_bad_one) {
  std::string no_model = "--XyZ\r\nContent-Disposition: form-data; name=\"file\"; "
                         "filename=\"a.wav\"\r\n\r\nRIFF\r\n--XyZ--";
  auto none = find_model("", transcription_type, no_model);
  EXPECT_TRUE(none.model.empty());
  EXPECT_TRUE(none.error.empty());
  EXPECT_FALSE(none.body_span);
  EXPECT_FALSE(none.stream);
  std::string file_model = "--XyZ\r\nContent-Disposition: form-data; name=\"model\"; "
                           "filename=\"m.txt\"\r\n\r\nwhisper\r\n--XyZ--";
  EXPECT_EQ(find_model("", transcription_type, file_model).error,
            "the form's \"model\" must be a text field, not a file");
  std::string json(R"({"model":"whisper"})");
  EXPECT_EQ(find_model("", transcription_type, json).error,
            "the request body is not multipart/form-data: the body has no delimiter of the "
            "form's boundary");
  // The header names the model: an unreadable form is the engine's to refuse.
  auto by_header = find_model("whisper", transcription_type, json);
  EXPECT_EQ(by_header.model, "whisper");
  EXPECT_TRUE(by_header.error.empty());
}

TEST(find_model, the_last_stream_counts_and_only_true_is_true) {
  auto json = [](std::string body) { return find_model("", "application/json", body).stream; };
  EXPECT_TRUE(json(R"({"stream":false,"stream":true})"));
  EXPECT_FALSE(json(R"({"stream":true,"stream":false})"));
  EXPECT_FALSE(json(R"({"stream":"true"})"));
  EXPECT_FALSE(json(R"({"messages":[]})"));
  auto form = [](std::string_view value) {
    std::string body = "--XyZ\r\nContent-Disposition: form-data; name=stream\r\n\r\n";
    body += value;
    body += "\r\n--XyZ--";
    return find_model("", transcription_type, body).stream;
  };
  for (auto yes : {"true", "1", "yes", "on", "t", "y", "TRUE"}) {
    EXPECT_TRUE(form(yes)) << yes;
  }
  for (auto no : {"false", "0", "no", "off", "", "truth"}) {
    EXPECT_FALSE(form(no)) << no;
  }
}

TEST(spliced_body, replaces_only_the_value) {
  std::string body = R"({"model":"a","x":1})";
  auto found = find_model("", "application/json", body);
  ASSERT_TRUE(found.body_span);
  spliced_body spliced(body, *found.body_span, "org/Model-1");
  EXPECT_EQ(spliced.joined(), R"({"model":"org/Model-1","x":1})");
  EXPECT_EQ(spliced.size(), spliced.joined().size());
  // The body's own bytes are not copied: two pieces lie in it.
  auto pieces = spliced.pieces();
  EXPECT_EQ(pieces[0].data(), body.data());
  EXPECT_EQ(pieces[2].data() + pieces[2].size(), body.data() + body.size());
}

TEST(spliced_body, escapes_a_value_that_needs_it) {
  std::string body = R"({"x":[1],"model":"a\u0062"})";
  auto found = find_model("", "application/json", body);
  ASSERT_TRUE(found.body_span);
  spliced_body spliced(body, *found.body_span, "org/Model \"1\"\\");
  EXPECT_EQ(spliced.joined(), R"({"x":[1],"model":"org/Model \"1\"\\"})");
  std::string again = spliced.joined();
  EXPECT_EQ(find_model("", "application/json", again).model, "org/Model \"1\"\\");
}

TEST(spliced_body, whole_body_is_one_piece) {
  std::string body = R"({"model":"a"})";
  spliced_body whole(body);
  EXPECT_EQ(whole.joined(), body);
  EXPECT_EQ(whole.size(), body.size());
}

} // namespace
} // namespace llmux::http
