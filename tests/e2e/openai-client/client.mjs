// The official openai npm client against a running llmux: a chat completion, the same request
// streamed, an unknown model, a text completion whole and streamed, an embedding, a
// transcription whole and streamed (a multipart form whose model field llmux reads), and a
// stream that waits for a slow model (llmux sends SSE comment lines meanwhile, which the client
// must skip). Exits non-zero on any mismatch.
import assert from 'node:assert/strict';
import OpenAI, { toFile } from 'openai';

const [baseURL, model, modelPath, slowModel] = process.argv.slice(2);
const client = new OpenAI({ baseURL: `${baseURL}/v1`, apiKey: 'not-checked', maxRetries: 0 });
const request = {
  model,
  messages: [{ role: 'user', content: 'Hello from the openai client' }],
  max_tokens: 5,
  seed: 7,
};

const chat = await client.chat.completions.create(request);
assert.equal(chat.object, 'chat.completion');
assert.equal(chat.model, modelPath);
const answer = chat.choices[0].message.content;
assert.ok(answer.length > 0, 'empty answer');
assert.equal(chat.usage.completion_tokens, 5);

const stream = await client.chat.completions.create({
  ...request,
  stream: true,
  stream_options: { include_usage: true },
});
let streamed = '';
let usage = null;
for await (const chunk of stream) {
  streamed += chunk.choices[0]?.delta?.content ?? '';
  if (chunk.usage) {
    usage = chunk.usage;
  }
}
assert.equal(streamed, answer);
assert.equal(usage?.completion_tokens, 5);

await assert.rejects(
  client.chat.completions.create({ ...request, model: 'no-such-model' }),
  (error) => error instanceof OpenAI.NotFoundError && /does not exist/.test(error.message),
);

const completion = await client.completions.create({ model, prompt: 'Once upon', max_tokens: 4, seed: 7 });
assert.equal(completion.object, 'text_completion');
assert.equal(completion.usage.completion_tokens, 4);
let completed = '';
for await (const chunk of await client.completions.create({
  model,
  prompt: 'Once upon',
  max_tokens: 4,
  seed: 7,
  stream: true,
})) {
  completed += chunk.choices[0]?.text ?? '';
}
assert.equal(completed, completion.choices[0].text);

const embedding = await client.embeddings.create({ model, input: 'a sentence to embed' });
assert.equal(embedding.data.length, 1);
assert.ok(embedding.data[0].embedding.length > 0, 'empty embedding');
assert.equal(embedding.model, modelPath);

const speech = Buffer.from('RIFF\x24\x08\x00\x00WAVEfmt \r\n--not-the-boundary\r\n');
const transcription = await client.audio.transcriptions.create({
  model,
  file: await toFile(speech, 'speech.wav'),
  language: 'en',
});
assert.ok(transcription.text.length > 0, 'empty transcription');
const transcribing = await client.audio.transcriptions.create({
  model,
  file: await toFile(speech, 'speech.wav'),
  stream: true,
});
let transcribed = '';
for await (const chunk of transcribing) {
  assert.equal(chunk.object, 'transcription.chunk');
  assert.equal(chunk.model, modelPath);
  transcribed += chunk.choices[0]?.delta?.content ?? '';
}
assert.equal(transcribed, transcription.text);

const models = await client.models.list();
assert.deepEqual(models.data.map((m) => m.id), [model, slowModel]);

// The slow model starts cold: the stream waits about 2.5 s with a comment line every second.
const waiting = await client.chat.completions.create({ ...request, model: slowModel, stream: true });
let waited = '';
for await (const chunk of waiting) {
  waited += chunk.choices[0]?.delta?.content ?? '';
}
const slowAnswer = await client.chat.completions.create({ ...request, model: slowModel });
assert.ok(waited.length > 0, 'empty stream after the wait');
assert.equal(waited, slowAnswer.choices[0].message.content);
console.log(`openai client: ok (${JSON.stringify(answer)})`);
