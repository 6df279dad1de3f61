/**
 * Which external programs the code runs, read from its source: the first argument of every
 * `node:child_process` call (spawn, execFile, exec… and `promisify`d aliases of them), the
 * `executablePath` of browser launches, and `git` behind simple-git. A command held in a variable
 * is followed to its constant, and a command that is a parameter to the call sites of its function
 * in the same file; where code cannot be read that way, a `// spawns: a, b` comment on the
 * statement names what it runs. What cannot be resolved is reported, never guessed.
 *
 * scripts/programs.txt is the list the scanned programs are checked against (test/programs.test.ts).
 */
import { readFileSync } from 'node:fs';
import { basename } from 'node:path';
import ts from 'typescript';

export interface SpawnSite {
  program: string;
  file: string;
  line: number;
}

export interface Unresolved {
  file: string;
  line: number;
  reason: string;
}

export interface ScanResult {
  sites: SpawnSite[];
  unresolved: Unresolved[];
}

export interface ProgramRow {
  program: string;
  up: string;
  test: string;
  install: string;
  usedFor: string;
}

/** The table in scripts/programs.txt. */
export function readProgramTable(path: string): ProgramRow[] {
  const rows: ProgramRow[] = [];
  for (const raw of readFileSync(path, 'utf8').split('\n')) {
    const line = raw.trim();
    if (!line || line.startsWith('#')) continue;
    const [program, up, test, install, ...rest] = line.split(/\s+/);
    rows.push({ program: program!, up: up ?? '', test: test ?? '', install: install ?? '', usedFor: rest.join(' ') });
  }
  return rows;
}

const CHILD_PROCESS_MODULES = new Set(['node:child_process', 'child_process']);
/** child_process functions whose first argument is the program (exec's is a shell command line). */
const SPAWNERS = new Set(['spawn', 'spawnSync', 'execFile', 'execFileSync', 'exec', 'execSync', 'fork']);
const SHELL_LINE = new Set(['exec', 'execSync']);
/** Paths npm ci puts in place are dependencies, not programs of the machine's. */
const NPM_BIN = /(^|\/)node_modules\/\.bin\//;

export function scanFiles(files: string[], readFile: (file: string) => string = (f) => readFileSync(f, 'utf8')): ScanResult {
  const result: ScanResult = { sites: [], unresolved: [] };
  for (const file of files) scanSource(file, readFile(file), result);
  return result;
}

function scanSource(file: string, text: string, out: ScanResult): void {
  const source = ts.createSourceFile(file, text, ts.ScriptTarget.Latest, true, file.endsWith('.js') ? ts.ScriptKind.JS : ts.ScriptKind.TS);
  const lineOf = (node: ts.Node) => source.getLineAndCharacterOfPosition(node.getStart(source)).line + 1;

  // Local names of child_process functions: `spawn`, `execFile as ef`, `cp` for `* as cp`,
  // and `run` for `const run = promisify(execFile)`.
  const spawners = new Map<string, string>();
  const namespaces = new Set<string>();
  let usesSimpleGit: ts.Node | undefined;
  for (const statement of source.statements) {
    if (!ts.isImportDeclaration(statement) || !ts.isStringLiteral(statement.moduleSpecifier)) continue;
    const from = statement.moduleSpecifier.text;
    if (from === 'simple-git' && !statement.importClause?.isTypeOnly) usesSimpleGit = statement;
    if (!CHILD_PROCESS_MODULES.has(from)) continue;
    const bindings = statement.importClause?.namedBindings;
    if (bindings && ts.isNamespaceImport(bindings)) namespaces.add(bindings.name.text);
    if (bindings && ts.isNamedImports(bindings)) {
      for (const el of bindings.elements) {
        const imported = (el.propertyName ?? el.name).text;
        if (SPAWNERS.has(imported)) spawners.set(el.name.text, imported);
      }
    }
    if (statement.importClause?.name) namespaces.add(statement.importClause.name.text);
  }
  if (usesSimpleGit) out.sites.push({ program: 'git', file, line: lineOf(usesSimpleGit) });

  const visitAliases = (node: ts.Node): void => {
    if (ts.isVariableDeclaration(node) && ts.isIdentifier(node.name) && node.initializer && ts.isCallExpression(node.initializer)) {
      const call = node.initializer;
      const arg = call.arguments[0];
      if (ts.isIdentifier(call.expression) && call.expression.text === 'promisify' && arg) {
        const target = spawnerName(arg, spawners, namespaces);
        if (target) spawners.set(node.name.text, target);
      }
    }
    ts.forEachChild(node, visitAliases);
  };
  visitAliases(source);

  const resolver = new Resolver(source);
  const visit = (node: ts.Node): void => {
    if (ts.isCallExpression(node)) {
      const fn = spawnerName(node.expression, spawners, namespaces);
      if (fn) {
        const arg = node.arguments[0];
        const found = fn === 'fork' ? { programs: ['node'] } : arg ? resolver.resolve(arg, new Set()) : { error: 'no command argument' };
        record(found, node, fn);
      }
    }
    // Browser launches: `chromium.launch({ executablePath })`.
    if (ts.isPropertyAssignment(node) && ts.isIdentifier(node.name) && node.name.text === 'executablePath') {
      record(resolver.resolve(node.initializer, new Set()), node, 'executablePath');
    }
    if (ts.isShorthandPropertyAssignment(node) && node.name.text === 'executablePath') {
      record(resolver.resolve(node.name, new Set()), node, 'executablePath');
    }
    ts.forEachChild(node, visit);
  };
  const record = (found: Resolution, node: ts.Node, fn: string) => {
    if ('error' in found) {
      out.unresolved.push({ file, line: lineOf(node), reason: `cannot tell which program ${fn}() runs (${found.error}); add a \`// spawns: <program>\` comment` });
      return;
    }
    for (const value of found.programs) {
      if (NPM_BIN.test(value)) continue;
      const program = SHELL_LINE.has(fn) ? value.trim().split(/\s+/)[0]! : value;
      out.sites.push({ program: basename(program), file, line: lineOf(node) });
    }
  };
  visit(source);
}

function spawnerName(expr: ts.Expression, spawners: Map<string, string>, namespaces: Set<string>): string | undefined {
  if (ts.isIdentifier(expr)) return spawners.get(expr.text);
  if (ts.isPropertyAccessExpression(expr) && ts.isIdentifier(expr.expression) && namespaces.has(expr.expression.text) && SPAWNERS.has(expr.name.text)) {
    return expr.name.text;
  }
  return undefined;
}

type Resolution = { programs: string[] } | { error: string };

/** Follows an expression to the string values it can have, within one file. */
class Resolver {
  constructor(private readonly source: ts.SourceFile) {}

  /** `seen` holds the nodes on the path being followed, so a cycle ends instead of recursing. */
  resolve(expr: ts.Expression, seen: Set<ts.Node>): Resolution {
    const annotated = this.annotation(expr);
    if (annotated) return { programs: annotated };
    if (seen.has(expr)) return { error: 'it refers to itself' };
    seen.add(expr);
    try {
      return this.resolveValue(skipParens(expr), seen);
    } finally {
      seen.delete(expr);
    }
  }

  private resolveValue(expr: ts.Expression, seen: Set<ts.Node>): Resolution {
    if (ts.isStringLiteral(expr) || ts.isNoSubstitutionTemplateLiteral(expr)) return { programs: [expr.text] };
    if (ts.isTemplateExpression(expr)) {
      // `${root}scripts/x.sh`-style paths: the literal tail names the program.
      const tail = expr.templateSpans.at(-1)!.literal.text;
      return tail && !tail.endsWith('/') ? { programs: [tail] } : { error: `a template with no literal program name: ${expr.getText(this.source)}` };
    }
    if (ts.isPropertyAccessExpression(expr) && expr.getText(this.source) === 'process.execPath') return { programs: ['node'] };
    if (ts.isBinaryExpression(expr) && [ts.SyntaxKind.QuestionQuestionToken, ts.SyntaxKind.BarBarToken].includes(expr.operatorToken.kind)) {
      // `process.env.X ?? 'default'`: the default is what runs unless someone overrides it.
      if (isEnvRead(expr.left)) return this.resolve(expr.right, seen);
      return merge([this.resolve(expr.left, seen), this.resolve(expr.right, seen)]);
    }
    if (ts.isConditionalExpression(expr)) return merge([this.resolve(expr.whenTrue, seen), this.resolve(expr.whenFalse, seen)]);
    if (ts.isCallExpression(expr) && ts.isIdentifier(expr.expression) && ['join', 'resolve'].includes(expr.expression.text)) {
      const last = expr.arguments.at(-1);
      return last ? this.resolve(last, seen) : { error: 'an empty path' };
    }
    if (ts.isIdentifier(expr)) return this.resolveIdentifier(expr, seen);
    return { error: `an expression: ${expr.getText(this.source)}` };
  }

  private resolveIdentifier(id: ts.Identifier, seen: Set<ts.Node>): Resolution {
    const declaration = this.declarationOf(id);
    if (!declaration) return { error: `"${id.text}" is not declared in this file` };
    if (ts.isVariableDeclaration(declaration)) {
      const annotated = this.annotation(declaration);
      if (annotated) return { programs: annotated };
      if (!declaration.initializer) return { error: `"${id.text}" has no initial value` };
      return this.resolve(declaration.initializer, seen);
    }
    if (ts.isParameter(declaration)) return this.resolveParameter(declaration, seen);
    return { error: `"${id.text}" is not a constant` };
  }

  /** A parameter: what every call of its function in this file passes for it. */
  private resolveParameter(param: ts.ParameterDeclaration, seen: Set<ts.Node>): Resolution {
    const fn = param.parent;
    const index = fn.parameters.indexOf(param);
    const name = functionName(fn);
    if (!name) return { error: `parameter "${param.name.getText(this.source)}" of an anonymous function` };
    const calls: ts.CallExpression[] = [];
    const find = (node: ts.Node): void => {
      if (ts.isCallExpression(node) && ts.isIdentifier(node.expression) && node.expression.text === name) calls.push(node);
      ts.forEachChild(node, find);
    };
    find(this.source);
    if (calls.length === 0) return { error: `"${name}" is never called in this file` };
    return merge(
      calls.map((call) => {
        const arg = call.arguments[index];
        return arg ? this.resolve(arg, seen) : { error: `a call of "${name}" passes no argument ${index + 1}` };
      }),
    );
  }

  /** The nearest declaration of `id` in an enclosing scope (variables, parameters). */
  private declarationOf(id: ts.Identifier): ts.VariableDeclaration | ts.ParameterDeclaration | undefined {
    for (let scope: ts.Node | undefined = id.parent; scope; scope = scope.parent) {
      if (ts.isFunctionLike(scope)) {
        const param = scope.parameters.find((p) => ts.isIdentifier(p.name) && p.name.text === id.text);
        if (param) return param;
      }
      if (ts.isBlock(scope) || ts.isSourceFile(scope) || ts.isModuleBlock(scope)) {
        for (const statement of scope.statements) {
          if (!ts.isVariableStatement(statement)) continue;
          const found = statement.declarationList.declarations.find((d) => ts.isIdentifier(d.name) && d.name.text === id.text);
          if (found) return found;
        }
      }
    }
    return undefined;
  }

  /** `// spawns: a, b` in the comments before the statement holding `node`. */
  private annotation(node: ts.Node): string[] | undefined {
    let statement: ts.Node = node;
    while (statement.parent && !ts.isSourceFile(statement.parent) && !ts.isBlock(statement.parent)) statement = statement.parent;
    const text = this.source.getFullText();
    for (const range of ts.getLeadingCommentRanges(text, statement.getFullStart()) ?? []) {
      const match = /spawns:\s*([\w.-]+(?:\s*,\s*[\w.-]+)*)/.exec(text.slice(range.pos, range.end));
      if (match) return match[1]!.split(',').map((s) => s.trim());
    }
    return undefined;
  }
}

function merge(parts: Resolution[]): Resolution {
  const failed = parts.find((p) => 'error' in p);
  if (failed) return failed;
  return { programs: parts.flatMap((p) => ('programs' in p ? p.programs : [])) };
}

function skipParens(expr: ts.Expression): ts.Expression {
  while (ts.isParenthesizedExpression(expr) || ts.isAsExpression(expr) || ts.isNonNullExpression(expr)) expr = expr.expression;
  return expr;
}

function isEnvRead(expr: ts.Expression): boolean {
  const text = expr.getText();
  return /^process\.env(\.\w+|\[.+\])$/.test(text);
}

function functionName(fn: ts.SignatureDeclaration): string | undefined {
  if ((ts.isFunctionDeclaration(fn) || ts.isFunctionExpression(fn)) && fn.name) return fn.name.text;
  if ((ts.isArrowFunction(fn) || ts.isFunctionExpression(fn)) && ts.isVariableDeclaration(fn.parent) && ts.isIdentifier(fn.parent.name)) return fn.parent.name.text;
  return undefined;
}
