#include "http/form_data.hpp"

#include <gtest/gtest.h>

namespace llmux::http {
namespace {

std::string_view value_of(std::string_view body, const form_part& part) {
  return body.substr(part.value_at, part.value_size);
}

// What the openai npm client (4.104) sends for audio.transcriptions.create.
constexpr std::string_view openai_client_body
  = "--form-data-boundary-8wd2dm5kweq8cddn\r\n"
    "Content-Disposition: form-data; name=\"model\"\r\n\r\n"
    "whisper\r\n"
    "--form-data-boundary-8wd2dm5kweq8cddn\r\n"
    "Content-Disposition: form-data; name=\"language\"\r\n\r\n"
    "en\r\n"
    "--form-data-boundary-8wd2dm5kweq8cddn\r\n"
    "Content-Disposition: form-data; name=\"file\"; filename=\"a.wav\"\r\n"
    "Content-Type: application/octet-stream\r\n\r\n"
    "RIFF\r\n--form-data-boundary\r\nWAVE\r\n"
    "--form-data-boundary-8wd2dm5kweq8cddn--\r\n\r\n";

TEST(form_boundary, reads_the_parameter_of_multipart_form_data_only) {
  EXPECT_EQ(form_boundary("multipart/form-data; boundary=form-data-boundary-8wd2dm5kweq8cddn"),
            "form-data-boundary-8wd2dm5kweq8cddn");
  EXPECT_EQ(form_boundary("Multipart/Form-Data;charset=utf-8; BOUNDARY=\"a b;c\""), "a b;c");
  EXPECT_EQ(form_boundary("multipart/form-data ; boundary = x "), "x");
  EXPECT_FALSE(form_boundary("application/json"));
  EXPECT_FALSE(form_boundary("multipart/mixed; boundary=x"));
  EXPECT_FALSE(form_boundary("multipart/form-data"));
  EXPECT_FALSE(form_boundary("multipart/form-data; boundary="));
  EXPECT_FALSE(form_boundary("multipart/form-data; boundary=\"unclosed"));
  EXPECT_FALSE(form_boundary("multipart/form-data; boundary=" + std::string(71, 'x')));
  EXPECT_TRUE(form_boundary("multipart/form-data; boundary=" + std::string(70, 'x')));
}

TEST(read_form, reads_the_openai_clients_form) {
  auto form = read_form(openai_client_body, "form-data-boundary-8wd2dm5kweq8cddn");
  ASSERT_TRUE(form) << form.error();
  ASSERT_EQ(form->size(), 3u);
  EXPECT_EQ((*form)[0].name, "model");
  EXPECT_EQ(value_of(openai_client_body, (*form)[0]), "whisper");
  EXPECT_FALSE((*form)[0].is_file);
  EXPECT_EQ(value_of(openai_client_body, (*form)[1]), "en");
  EXPECT_EQ((*form)[2].name, "file");
  EXPECT_TRUE((*form)[2].is_file);
  // A line that only starts like the delimiter is content.
  EXPECT_EQ(value_of(openai_client_body, (*form)[2]), "RIFF\r\n--form-data-boundary\r\nWAVE");
}

TEST(read_form, preamble_padding_epilogue_and_part_without_headers) {
  std::string_view body = "ignored preamble\r\n--b  \t\r\n"
                          "content-disposition: FORM-DATA; NAME=model\r\n\r\n"
                          "m1\r\n--b\r\n\r\nno headers\r\n--b--epilogue";
  auto form = read_form(body, "b");
  // The second part has no Content-Disposition: the engine refuses such a form too.
  ASSERT_FALSE(form);
  EXPECT_EQ(form.error(), "a part has no Content-Disposition");
  std::string_view fine = "ignored preamble\r\n--b  \t\r\n"
                          "content-disposition: FORM-DATA; NAME=model\r\n\r\n"
                          "m1\r\n--b--epilogue";
  auto read = read_form(fine, "b");
  ASSERT_TRUE(read) << read.error();
  ASSERT_EQ(read->size(), 1u);
  EXPECT_EQ((*read)[0].name, "model");
  EXPECT_EQ(value_of(fine, (*read)[0]), "m1");
}

TEST(read_form, names_quoted_escaped_and_extended) {
  std::string_view body
    = "--b\r\nContent-Disposition: form-data; name=\"mo\\del\"\r\n\r\n1\r\n"
      "--b\r\nContent-Disposition: form-data; name*=utf-8''%6Dodel\r\n\r\n2\r\n"
      "--b\r\nContent-Disposition: form-data; name=x; name=\"a;b\"; filename*=x\r\n"
      "\r\n3\r\n--b--";
  auto form = read_form(body, "b");
  ASSERT_TRUE(form) << form.error();
  ASSERT_EQ(form->size(), 3u);
  EXPECT_EQ((*form)[0].name, "model");
  EXPECT_EQ((*form)[1].name, "model");
  EXPECT_EQ((*form)[2].name, "a;b");
  EXPECT_TRUE((*form)[2].is_file);
  ASSERT_NE(last_field(*form, "model"), nullptr);
  EXPECT_EQ(value_of(body, *last_field(*form, "model")), "2");
  EXPECT_EQ(last_field(*form, "stream"), nullptr);
}

TEST(read_form, malformed_forms_say_why) {
  auto error = [](std::string_view body) {
    auto form = read_form(body, "b");
    return form ? std::string("read") : form.error();
  };
  EXPECT_EQ(error("{\"model\":\"a\"}"), "the body has no delimiter of the form's boundary");
  EXPECT_EQ(error("--b\r\nContent-Disposition: form-data; name=m\r\n\r\nvalue"),
            "the form has no close delimiter");
  EXPECT_EQ(error("--b\r\nContent-Disposition: form-data; name=m\r\n\r\nvalue\r\n--b"),
            "the form has no close delimiter");
  EXPECT_EQ(error("--bx\r\n"), "a delimiter is not followed by a line end");
  EXPECT_EQ(error("--b\r\nContent-Disposition: form-data; name=m\r\nvalue\r\n\r\nv\r\n--b--"),
            "a part has a header line without a colon");
  EXPECT_EQ(error("--b\r\nContent-Disposition: form-data; name=m"),
            "a part's headers have no blank line after them within 16 KiB");
  EXPECT_EQ(error("--b\r\nContent-Disposition: form-data; name=m\n\nv\r\n--b--"),
            "a part's header line does not end with CRLF");
  EXPECT_EQ(error("--b" + std::string(300, ' ') + "\r\n"),
            "a delimiter is not followed by a line end");
  EXPECT_EQ(error("--b\r\nContent-Disposition: form-data; filename=x\r\n\r\nv\r\n--b--"),
            "a part's Content-Disposition names no field");
  EXPECT_EQ(error("--b\r\nContent-Disposition: form-data; name=\"m\r\n\r\nv\r\n--b--"),
            "a part's Content-Disposition has an unclosed quoted string");
  EXPECT_EQ(error("--b--"), "read"); // an empty form
}

// Bodies made to make a search slow (the boundary's own letter everywhere, a part's headers
// that never end, line ends everywhere) are still read in one pass over their bytes.
TEST(read_form, hostile_bodies_are_read_in_one_pass) {
  std::string boundary(70, 'a');
  constexpr std::size_t size = 32 * 1024 * 1024;
  auto all = [](char c) { return std::string(size, c); };
  EXPECT_EQ(read_form(all('a'), boundary).error(),
            "the body has no delimiter of the form's boundary");
  EXPECT_EQ(read_form("--" + boundary + "\r\n" + all('\r'), boundary).error(),
            "a part's headers have no blank line after them within 16 KiB");
  auto value_of_as = "--" + boundary + "\r\nContent-Disposition: form-data; name=f\r\n\r\n";
  EXPECT_EQ(read_form(value_of_as + all('a'), boundary).error(), "the form has no close delimiter");
  std::string near_delimiters;
  while (near_delimiters.size() < size) {
    near_delimiters += "\r\n--" + boundary.substr(0, 69) + "b";
  }
  EXPECT_EQ(read_form(value_of_as + near_delimiters, boundary).error(),
            "the form has no close delimiter");
}

TEST(read_form, refuses_more_fields_than_the_engine_takes) {
  std::string body;
  for (int i = 0; i < 1001; ++i) {
    body += "--b\r\nContent-Disposition: form-data; name=f\r\n\r\nv\r\n";
  }
  body += "--b--";
  auto form = read_form(body, "b");
  ASSERT_FALSE(form);
  EXPECT_EQ(form.error(), "the form has more than 1000 fields");
}

} // namespace
} // namespace llmux::http
