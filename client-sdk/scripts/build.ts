/**
 * Builds @parley/client into dist/: index.js (Bun.build, ESM, @trpc/* left as imports) and .d.ts
 * files whose router type is generated (router-dts.ts), so the package stands on its own.
 *
 *   bun run --cwd client-sdk build
 */
import { cpSync, mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import { join, resolve } from "node:path";
import ts from "typescript";
import { generateRouterDts } from "./router-dts";

const pkgDir = resolve(import.meta.dir, "..");
const rootDir = resolve(pkgDir, "..");
const srcDir = join(pkgDir, "src");
const distDir = join(pkgDir, "dist");

rmSync(distDir, { recursive: true, force: true });
mkdirSync(distDir, { recursive: true });

// 1. JavaScript.
const js = await Bun.build({
  entrypoints: [join(srcDir, "index.ts")],
  outdir: distDir,
  target: "browser",
  format: "esm",
  external: ["@trpc/client", "@trpc/server", "@trpc/server/*"],
  sourcemap: "linked",
});
if (!js.success) {
  for (const log of js.logs) console.error(log);
  throw new Error("Bun.build failed");
}

// 2. The router type, spelled out.
const routerDts = generateRouterDts(join(srcDir, "app-router.ts"), join(rootDir, "tsconfig.json"));

// 3. Declarations of the SDK's own modules, compiled against the generated router type (a staging
//    copy of src/ where app-router.ts is replaced by the generated .d.ts).
const stage = mkdtempSync(join(pkgDir, ".build-"));
try {
  for (const f of readdirSync(srcDir)) if (f.endsWith(".ts") && f !== "app-router.ts") cpSync(join(srcDir, f), join(stage, f));
  writeFileSync(join(stage, "app-router.d.ts"), routerDts);
  const options: ts.CompilerOptions = {
    target: ts.ScriptTarget.ES2022,
    module: ts.ModuleKind.ESNext,
    moduleResolution: ts.ModuleResolutionKind.Bundler,
    lib: ["lib.es2023.d.ts", "lib.dom.d.ts"],
    types: [],
    strict: true,
    noUncheckedIndexedAccess: true,
    verbatimModuleSyntax: true,
    skipLibCheck: true,
    declaration: true,
    emitDeclarationOnly: true,
    outDir: distDir,
    rootDir: stage,
  };
  const files = readdirSync(stage).filter((f) => f.endsWith(".ts")).map((f) => join(stage, f));
  const program = ts.createProgram(files, options);
  const emitted = program.emit();
  const diagnostics = [...ts.getPreEmitDiagnostics(program), ...emitted.diagnostics];
  if (diagnostics.length) {
    const host: ts.FormatDiagnosticsHost = { getCanonicalFileName: (f) => f, getCurrentDirectory: () => stage, getNewLine: () => "\n" };
    throw new Error(`declarations failed:\n${ts.formatDiagnostics(diagnostics, host)}`);
  }
  writeFileSync(join(distDir, "app-router.d.ts"), routerDts);
} finally {
  rmSync(stage, { recursive: true, force: true });
}
console.log(`@parley/client built: ${readdirSync(distDir).sort().join(", ")}`);
