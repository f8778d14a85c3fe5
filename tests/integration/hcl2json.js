// Parse Terraform files with HashiCorp's HCL parser (@cdktf/hcl2json, the Go hcl/v2
// library compiled to WebAssembly): `node hcl2json.js OUT_DIR FILE.tf...` writes
// OUT_DIR/<n>.json per file and prints one line per file; exit 1 if any fails to parse.
// Used by test_terraform.sh; not a test itself.
const fs = require("fs");
const path = require("path");
const modules = path.join(__dirname, "..", "node_modules");
const { parse } = require(path.join(modules, "@cdktf", "hcl2json"));

(async () => {
  const [outDir, ...files] = process.argv.slice(2);
  let bad = 0;
  for (let i = 0; i < files.length; i++) {
    try {
      const json = await parse(files[i], fs.readFileSync(files[i], "utf8"));
      fs.writeFileSync(path.join(outDir, `${i}.json`), JSON.stringify({ file: files[i], hcl: json }));
      console.log(`parsed ${files[i]}`);
    } catch (e) {
      bad++;
      console.log(`PARSE ERROR ${files[i]}: ${String(e.message || e).split("\n")[0]}`);
    }
  }
  process.exit(bad ? 1 : 0);
})();
