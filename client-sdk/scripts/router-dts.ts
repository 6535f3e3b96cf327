/**
 * Writes the AppRouter type as a self-contained declaration: every procedure's input and output
 * printed structurally (TypeScript 5 compiler API; TypeScript 7 has no JS API), so the published
 * .d.ts names nothing from the server (no Context, drizzle, zod) — only @trpc/server's own types.
 */
import ts from "typescript";

export function generateRouterDts(entryFile: string, tsconfigPath: string): string {
  const parsed = ts.getParsedCommandLineOfConfigFile(tsconfigPath, {}, {
    ...ts.sys,
    onUnRecoverableConfigFileDiagnostic: (d) => {
      throw new Error(ts.flattenDiagnosticMessageText(d.messageText, "\n"));
    },
  });
  if (!parsed) throw new Error(`cannot read ${tsconfigPath}`);
  const program = ts.createProgram([entryFile], { ...parsed.options, noEmit: true });
  const checker = program.getTypeChecker();
  const source = program.getSourceFile(entryFile);
  if (!source) throw new Error(`cannot load ${entryFile}`);
  const moduleSymbol = checker.getSymbolAtLocation(source);
  if (!moduleSymbol) throw new Error(`${entryFile} is not a module`);
  let routerSymbol = checker.getExportsOfModule(moduleSymbol).find((s) => s.name === "AppRouter");
  if (!routerSymbol) throw new Error(`${entryFile} exports no AppRouter`);
  if (routerSymbol.flags & ts.SymbolFlags.Alias) routerSymbol = checker.getAliasedSymbol(routerSymbol);
  const routerType = checker.getDeclaredTypeOfSymbol(routerSymbol);

  const prop = (t: ts.Type, name: string): ts.Type | undefined => {
    const s = checker.getPropertyOfType(t, name);
    return s ? checker.getTypeOfSymbol(s) : undefined;
  };
  const need = (t: ts.Type | undefined, what: string): ts.Type => {
    if (!t) throw new Error(`AppRouter: ${what} not found`);
    return t;
  };

  const visiting = new Set<ts.Type>();
  const identifier = /^[A-Za-z_$][A-Za-z0-9_$]*$/;
  const key = (name: string) => (identifier.test(name) ? name : JSON.stringify(name));

  function print(t: ts.Type, indent: string): string {
    const f = t.flags;
    if (f & ts.TypeFlags.Any || f & ts.TypeFlags.Unknown) return "unknown";
    if (f & ts.TypeFlags.String) return "string";
    if (f & ts.TypeFlags.Number) return "number";
    if (f & ts.TypeFlags.Boolean) return "boolean";
    if (f & ts.TypeFlags.BigInt) return "bigint";
    if (f & ts.TypeFlags.Null) return "null";
    if (f & ts.TypeFlags.Undefined) return "undefined";
    if (f & ts.TypeFlags.Void) return "void";
    if (f & ts.TypeFlags.Never) return "never";
    if (f & ts.TypeFlags.StringLiteral) return JSON.stringify((t as ts.StringLiteralType).value);
    if (f & ts.TypeFlags.NumberLiteral) return String((t as ts.NumberLiteralType).value);
    if (f & ts.TypeFlags.BooleanLiteral) return checker.typeToString(t);
    if (f & ts.TypeFlags.Union) {
      const members = (t as ts.UnionType).types;
      // `true | false` inside a union prints as boolean.
      const hasTrue = members.some((m) => m.flags & ts.TypeFlags.BooleanLiteral && checker.typeToString(m) === "true");
      const hasFalse = members.some((m) => m.flags & ts.TypeFlags.BooleanLiteral && checker.typeToString(m) === "false");
      const parts = members
        .filter((m) => !(hasTrue && hasFalse && m.flags & ts.TypeFlags.BooleanLiteral))
        .map((m) => wrap(m, indent));
      if (hasTrue && hasFalse) parts.push("boolean");
      return parts.join(" | ");
    }
    if (f & ts.TypeFlags.Intersection) return (t as ts.IntersectionType).types.map((m) => wrap(m, indent)).join(" & ");
    if (f & ts.TypeFlags.Object) {
      if (visiting.has(t)) return "unknown";
      visiting.add(t);
      try {
        return printObject(t as ts.ObjectType, indent);
      } finally {
        visiting.delete(t);
      }
    }
    if (f & ts.TypeFlags.NonPrimitive) return "object";
    if (f & ts.TypeFlags.ESSymbolLike) return "symbol";
    throw new Error(`cannot print type ${checker.typeToString(t)}`);
  }

  function wrap(t: ts.Type, indent: string): string {
    const s = print(t, indent);
    return t.flags & (ts.TypeFlags.Union | ts.TypeFlags.Intersection) ? `(${s})` : s;
  }

  function printObject(t: ts.ObjectType, indent: string): string {
    if (checker.isTupleType(t)) {
      const args = checker.getTypeArguments(t as ts.TypeReference);
      return `[${args.map((a) => print(a, indent)).join(", ")}]`;
    }
    if (checker.isArrayType(t)) {
      const [elem] = checker.getTypeArguments(t as ts.TypeReference);
      return `Array<${elem ? print(elem, indent) : "unknown"}>`;
    }
    const name = t.getSymbol()?.getName();
    if (name === "Date") return "Date";
    if (t.getCallSignatures().length > 0 || t.getConstructSignatures().length > 0) return "unknown";
    const inner = `${indent}  `;
    const lines: string[] = [];
    for (const info of checker.getIndexInfosOfType(t)) {
      lines.push(`${inner}[key: ${print(info.keyType, inner)}]: ${print(info.type, inner)};`);
    }
    for (const p of checker.getPropertiesOfType(t)) {
      const optional = p.flags & ts.SymbolFlags.Optional ? "?" : "";
      const decl = p.valueDeclaration ?? p.declarations?.[0];
      const readonly = decl && ts.getCombinedModifierFlags(decl) & ts.ModifierFlags.Readonly ? "readonly " : "";
      lines.push(`${inner}${readonly}${key(p.getName())}${optional}: ${print(checker.getTypeOfSymbol(p), inner)};`);
    }
    return lines.length ? `{\n${lines.join("\n")}\n${indent}}` : "{}";
  }

  const PROC: Record<string, string> = { query: "TRPCQueryProcedure", mutation: "TRPCMutationProcedure", subscription: "TRPCSubscriptionProcedure" };

  function printRecord(record: ts.Type, indent: string, path: string): string {
    const inner = `${indent}  `;
    const lines: string[] = [];
    for (const p of checker.getPropertiesOfType(record)) {
      const t = checker.getTypeOfSymbol(p);
      const def = prop(t, "_def");
      const types = def && prop(def, "$types");
      const name = `${path}${p.getName()}`;
      if (def && types) {
        const kind = prop(def, "type");
        const kindName = kind && kind.flags & ts.TypeFlags.StringLiteral ? (kind as ts.StringLiteralType).value : undefined;
        const wrapper = kindName ? PROC[kindName] : undefined;
        if (!wrapper) throw new Error(`${name}: unknown procedure type`);
        const input = print(need(prop(types, "input"), `${name} input`), `${inner}  `);
        const output = print(need(prop(types, "output"), `${name} output`), `${inner}  `);
        lines.push(`${inner}${key(p.getName())}: ${wrapper}<{\n${inner}  input: ${input};\n${inner}  output: ${output};\n${inner}  meta: object;\n${inner}}>;`);
      } else {
        lines.push(`${inner}${key(p.getName())}: ${printRecord(t, inner, `${name}.`)};`);
      }
    }
    return `{\n${lines.join("\n")}\n${indent}}`;
  }

  const def = need(prop(routerType, "_def"), "_def");
  const record = need(prop(def, "record"), "_def.record");
  const rootTypes = need(prop(need(prop(def, "_config"), "_def._config"), "$types"), "_def._config.$types");
  const errorShape = print(need(prop(rootTypes, "errorShape"), "errorShape"), "");

  return `/**
 * The Parley API router type, generated by client-sdk/scripts/build.ts from the server's AppRouter.
 * Do not edit: rebuild the package instead.
 */
import type { TRPCBuiltRouter, TRPCMutationProcedure, TRPCQueryProcedure, TRPCSubscriptionProcedure } from "@trpc/server";

/** The error shape every procedure answers with (\`data.detail\` is the REST \`detail\`). */
export type ParleyErrorShape = ${errorShape};

export type AppRouterRecord = ${printRecord(record, "", "")};

export type AppRouter = TRPCBuiltRouter<{ ctx: object; meta: object; errorShape: ParleyErrorShape; transformer: false }, AppRouterRecord>;

// Keeps the subscription wrapper referenced even while no procedure is a subscription.
export type ParleySubscriptionProcedure<TDef extends { input: unknown; output: unknown; meta: unknown }> = TRPCSubscriptionProcedure<TDef>;
`;
}
