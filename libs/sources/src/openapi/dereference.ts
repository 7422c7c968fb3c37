import { describePointer, isRecord } from './document';
import { OpenApiDocumentError } from './errors';
import { OPENAPI_LIMITS } from './limits';

/** Values copied as data: a `$ref` inside an example is not a reference. */
const DATA_KEYWORDS = new Set(['default', 'enum', 'const', 'example', 'examples', 'discriminator']);
/** Keywords whose value maps names to schemas (a property may be called `default`). */
const SCHEMA_MAPS = new Set([
  'properties',
  'patternProperties',
  'dependentSchemas',
  '$defs',
  'definitions',
]);
/** Dropped while expanding: never useful in a tool's input schema, and may hold large subtrees. */
const SKIPPED_KEYWORDS = new Set(['xml', 'externalDocs']);
/** 3.1 siblings of a `$ref` that only annotate, so they can be laid over the target. */
const ANNOTATIONS = new Set([
  'title',
  'description',
  'summary',
  'deprecated',
  'readOnly',
  'writeOnly',
  'default',
  'examples',
  'example',
]);

export class ExpansionBudgetExceeded extends Error {}

function pointerTokens(ref: string): string[] | undefined {
  if (ref === '#') return [];
  if (!ref.startsWith('#/')) return undefined;
  try {
    return ref
      .slice(2)
      .split('/')
      .map((t) => decodeURIComponent(t).replaceAll('~1', '/').replaceAll('~0', '~'));
  } catch {
    return undefined;
  }
}

function lookup(root: unknown, tokens: readonly string[]): unknown {
  let node = root;
  for (const t of tokens) {
    if (Array.isArray(node) && /^(0|[1-9]\d*)$/.test(t)) node = node[Number(t)];
    else if (isRecord(node) && Object.hasOwn(node, t)) node = node[t];
    else return undefined;
  }
  return node;
}

/**
 * Walks the parsed document once, before anything else reads it: bounds its size and depth and
 * refuses every `$ref` that is not a resolvable pointer into the document itself, so no later
 * stage (swagger-parser included) has a file or URL to read.
 */
export function checkDocumentShape(root: unknown): void {
  let nodes = 0;
  const at: (string | number)[] = [];
  const walk = (node: unknown): void => {
    if (++nodes > OPENAPI_LIMITS.maxDocumentNodes) {
      throw new OpenApiDocumentError(
        `document: more than ${OPENAPI_LIMITS.maxDocumentNodes} JSON values`,
      );
    }
    if (at.length > OPENAPI_LIMITS.maxDocumentDepth) {
      throw new OpenApiDocumentError(
        `document: ${describePointer(at.slice(0, 8))}…: nested deeper than ${OPENAPI_LIMITS.maxDocumentDepth} levels`,
      );
    }
    if (Array.isArray(node)) {
      node.forEach((v, i) => {
        at.push(i);
        walk(v);
        at.pop();
      });
      return;
    }
    if (!isRecord(node)) return;
    const ref = node.$ref;
    if (typeof ref === 'string') {
      const tokens = pointerTokens(ref);
      if (!tokens) {
        throw new OpenApiDocumentError(
          `document: ${describePointer(at)}: $ref "${ref}" points outside the document; only internal references (#/components/…) are supported — inline or bundle external files first`,
        );
      }
      if (lookup(root, tokens) === undefined) {
        throw new OpenApiDocumentError(
          `document: ${describePointer(at)}: $ref "${ref}" does not resolve`,
        );
      }
    }
    for (const [k, v] of Object.entries(node)) {
      // Assigned later as `out[k]`, this key would set a prototype instead of a property.
      if (k === '__proto__') {
        throw new OpenApiDocumentError(
          `document: ${describePointer(at)}: the key __proto__ is not allowed`,
        );
      }
      at.push(k);
      walk(v);
      at.pop();
    }
  };
  walk(root);
}

/**
 * Expands internal `$ref`s into plain JSON copies. A reference met again inside its own expansion
 * (a recursive schema) is cut to an empty schema with a description, so the result is a finite
 * tree; each copy spends from a node budget so shared references cannot multiply without bound.
 */
export class RefResolver {
  constructor(
    private readonly root: unknown,
    private readonly dialect: '3.0' | '3.1',
  ) {}

  /** Follows a Reference Object chain (parameters, request bodies, path items). */
  object(node: unknown): Record<string, unknown> | undefined {
    const seen = new Set<string>();
    let current = node;
    let overrides: Record<string, unknown> = {};
    while (isRecord(current) && typeof current.$ref === 'string') {
      const ref = current.$ref;
      if (seen.has(ref)) return undefined;
      seen.add(ref);
      if (this.dialect === '3.1') {
        const { summary, description } = current;
        overrides = {
          ...(typeof summary === 'string' ? { summary } : {}),
          ...(typeof description === 'string' ? { description } : {}),
          ...overrides,
        };
      }
      const tokens = pointerTokens(ref);
      current = tokens && lookup(this.root, tokens);
    }
    return isRecord(current) ? { ...current, ...overrides } : undefined;
  }

  schema(node: unknown, budget: { left: number }): unknown {
    return this.expand(node, budget, { stack: [], depth: 0 });
  }

  private expand(node: unknown, budget: { left: number }, at: Position): unknown {
    spend(budget);
    const inner = { stack: at.stack, depth: at.depth + 1 };
    if (Array.isArray(node)) return node.map((n) => this.expand(n, budget, inner));
    if (!isRecord(node)) return node;
    // Bounds the recursion here and in everything that later walks the copy.
    if (at.depth >= OPENAPI_LIMITS.maxSchemaDepth)
      return { description: 'Nested too deeply; not expanded.' };
    if (typeof node.$ref === 'string') return this.reference(node, node.$ref, budget, at);
    return this.entries(node, budget, inner);
  }

  private reference(
    node: Record<string, unknown>,
    ref: string,
    budget: { left: number },
    at: Position,
  ): unknown {
    let target: unknown;
    if (at.stack.includes(ref)) {
      target = { description: `Recursive reference to ${ref}; not expanded.` };
    } else if (at.stack.length >= OPENAPI_LIMITS.maxRefDepth) {
      target = { description: `Reference to ${ref} nested too deeply; not expanded.` };
    } else {
      const tokens = pointerTokens(ref);
      const resolved = tokens ? (lookup(this.root, tokens) ?? {}) : {};
      target = this.expand(resolved, budget, { stack: [...at.stack, ref], depth: at.depth });
    }
    // 3.0 ignores the siblings of a $ref; in 3.1 `$ref` is one keyword among others.
    const { $ref: _ref, ...rest } = node;
    if (this.dialect === '3.0' || Object.keys(rest).length === 0) return target;
    const siblings = this.entries(rest, budget, { stack: at.stack, depth: at.depth + 1 });
    if (isRecord(target) && Object.keys(siblings).every((k) => ANNOTATIONS.has(k))) {
      return { ...target, ...siblings };
    }
    const allOf: unknown[] = Array.isArray(siblings.allOf) ? (siblings.allOf as unknown[]) : [];
    return { ...siblings, allOf: [...allOf, target] };
  }

  private entries(
    node: Record<string, unknown>,
    budget: { left: number },
    at: Position,
  ): Record<string, unknown> {
    const out: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(node)) {
      if (k.startsWith('x-') || SKIPPED_KEYWORDS.has(k)) continue;
      if (DATA_KEYWORDS.has(k)) out[k] = copyData(v, budget);
      else if (SCHEMA_MAPS.has(k) && isRecord(v)) {
        spend(budget);
        const inner = { stack: at.stack, depth: at.depth + 1 };
        out[k] = Object.fromEntries(
          Object.entries(v).map(([name, s]) => [name, this.expand(s, budget, inner)]),
        );
      } else out[k] = this.expand(v, budget, at);
    }
    return out;
  }
}

interface Position {
  /** The references being expanded, outermost first. */
  stack: readonly string[];
  /** JSON nesting of the copy made so far. */
  depth: number;
}

function spend(budget: { left: number }): void {
  if (--budget.left < 0) throw new ExpansionBudgetExceeded();
}

export function copyData(v: unknown, budget: { left: number }): unknown {
  spend(budget);
  if (Array.isArray(v)) return v.map((x) => copyData(x, budget));
  if (isRecord(v))
    return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, copyData(x, budget)]));
  return v;
}
