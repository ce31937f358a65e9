/**
 * XML canonicalization (C14N 1.0, C14N 1.1, Exclusive C14N) of a node-set given as an apex node (document or
 * element) minus whole excluded subtrees — the only node-sets XML-DSig references produce here (URI="" or
 * `#id`, enveloped-signature / `not(ancestor-or-self::ds:Signature)` / filter-2 subtract transforms).
 *
 * Comments are output only with `withComments` AND when the reference kept them; URI="" and `#id` references
 * never do (XML-DSig 4.4.3.3), which is why callers pass `withComments: false` for them.
 * Simplification: C14N 1.1 is C14N 1.0 except that `xml:id`/`xml:base` are not inherited into an apex element
 * (xml:base fix-up is not implemented; the AuthTokenRequest never carries xml:base).
 */
import type { Attr, Element, Node } from '@xmldom/xmldom';
import { XML_NS, type CanonicalizationMethod } from './xades/algorithms';
import { NodeType, isElement } from './xmlDom';

export interface C14nOptions {
  method: CanonicalizationMethod;
  withComments?: boolean;
  /** Roots of subtrees left out of the output (e.g. the enveloped ds:Signature). */
  excluded?: ReadonlySet<Node>;
  /** Exclusive C14N InclusiveNamespaces PrefixList (`#default` stands for the default namespace). */
  inclusivePrefixes?: readonly string[];
}

type Namespaces = ReadonlyMap<string, string>;

export function canonicalize(apex: Node, options: C14nOptions): Buffer {
  const out: string[] = [];
  const excluded = options.excluded ?? new Set<Node>();
  const withComments = options.withComments ?? false;
  const exclusive = options.method === 'exc-c14n';
  const inclusivePrefixes = new Set((options.inclusivePrefixes ?? []).map((p) => (p === '#default' ? '' : p)));

  const renderElement = (element: Element, parentScope: Namespaces, rendered: Namespaces, isApex: boolean): void => {
    const scope = new Map(parentScope);
    for (const attr of attributesOf(element)) {
      const prefix = declaredPrefix(attr);
      if (prefix !== undefined) scope.set(prefix, attr.value);
    }
    const emitted = new Map(rendered);
    const declarations: [string, string][] = [];
    const candidates = exclusive ? exclusiveCandidates(element, inclusivePrefixes, scope) : [...scope.keys()];
    for (const prefix of candidates) {
      if (prefix === 'xml') continue;
      const uri = scope.get(prefix) ?? '';
      const previous = rendered.get(prefix) ?? (prefix === '' ? '' : undefined);
      if (previous === uri) continue;
      if (prefix !== '' && uri === '') continue;
      declarations.push([prefix, uri]);
      emitted.set(prefix, uri);
    }
    declarations.sort(([a], [b]) => compare(a, b));

    const attributes = attributesOf(element).filter((a) => declaredPrefix(a) === undefined);
    if (isApex && !exclusive) attributes.push(...inheritedXmlAttributes(element, attributes, options.method));
    attributes.sort((a, b) => compare(a.namespaceURI ?? '', b.namespaceURI ?? '') || compare(localNameOf(a), localNameOf(b)));

    out.push('<', element.nodeName);
    for (const [prefix, uri] of declarations) out.push(' ', prefix ? `xmlns:${prefix}` : 'xmlns', '="', escapeAttribute(uri), '"');
    for (const attr of attributes) out.push(' ', attr.name, '="', escapeAttribute(attr.value), '"');
    out.push('>');
    for (const child of Array.from(element.childNodes)) renderNode(child, scope, exclusive ? emitted : scope);
    out.push('</', element.nodeName, '>');
  };

  const renderNode = (node: Node, scope: Namespaces, rendered: Namespaces): void => {
    if (excluded.has(node)) return;
    switch (node.nodeType) {
      case NodeType.ELEMENT:
        renderElement(node as Element, scope, rendered, false);
        break;
      case NodeType.TEXT:
      case NodeType.CDATA_SECTION:
        out.push(escapeText(node.nodeValue ?? ''));
        break;
      case NodeType.COMMENT:
        if (withComments) out.push('<!--', node.nodeValue ?? '', '-->');
        break;
      case NodeType.PROCESSING_INSTRUCTION:
        out.push(processingInstruction(node));
        break;
    }
  };

  if (apex.nodeType === NodeType.DOCUMENT) {
    let afterRoot = false;
    for (const child of Array.from(apex.childNodes)) {
      if (excluded.has(child)) continue;
      if (isElement(child)) {
        renderElement(child, new Map(), new Map(), false);
        afterRoot = true;
      } else if (child.nodeType === NodeType.COMMENT || isRealProcessingInstruction(child)) {
        const text =
          child.nodeType === NodeType.COMMENT ? (withComments ? `<!--${child.nodeValue ?? ''}-->` : '') : processingInstruction(child);
        if (text) out.push(afterRoot ? '\n' : '', text, afterRoot ? '' : '\n');
      }
    }
  } else if (isElement(apex)) {
    renderElement(apex, namespacesInScope(apex.parentNode), new Map(), true);
  } else {
    throw new Error(`Cannot canonicalize a node of type ${apex.nodeType}`);
  }
  return Buffer.from(out.join(''), 'utf8');
}

function attributesOf(element: Element): Attr[] {
  return Array.from(element.attributes);
}

/** The prefix an `xmlns`/`xmlns:p` attribute declares ('' for the default namespace); undefined for other attributes. */
function declaredPrefix(attr: Attr): string | undefined {
  if (attr.name === 'xmlns') return '';
  if (attr.name.startsWith('xmlns:')) return attr.name.slice(6);
  return undefined;
}

function localNameOf(attr: Attr): string {
  return attr.localName ?? attr.name;
}

/** Namespace declarations in scope at `node` (from the document root down). */
function namespacesInScope(node: Node | null): Map<string, string> {
  const chain: Element[] = [];
  for (let current = node; current && isElement(current); current = current.parentNode) chain.unshift(current);
  const scope = new Map<string, string>();
  for (const element of chain) {
    for (const attr of attributesOf(element)) {
      const prefix = declaredPrefix(attr);
      if (prefix !== undefined) scope.set(prefix, attr.value);
    }
  }
  return scope;
}

/** Exclusive C14N renders the namespaces an element visibly uses, plus the InclusiveNamespaces ones in scope. */
function exclusiveCandidates(element: Element, inclusivePrefixes: ReadonlySet<string>, scope: Namespaces): string[] {
  const used = new Set<string>([element.prefix ?? '']);
  for (const attr of attributesOf(element)) {
    if (declaredPrefix(attr) === undefined && attr.prefix && attr.prefix !== 'xml') used.add(attr.prefix);
  }
  for (const prefix of inclusivePrefixes) if (scope.has(prefix)) used.add(prefix);
  return [...used];
}

/** Inclusive C14N of an element subset carries the xml:* attributes the element inherits from omitted ancestors. */
function inheritedXmlAttributes(element: Element, own: Attr[], method: CanonicalizationMethod): Attr[] {
  const inherited = new Map<string, Attr>();
  const ownNames = new Set(own.filter((a) => a.namespaceURI === XML_NS).map(localNameOf));
  for (let ancestor = element.parentNode; ancestor && isElement(ancestor); ancestor = ancestor.parentNode) {
    for (const attr of attributesOf(ancestor)) {
      const name = localNameOf(attr);
      if (attr.namespaceURI !== XML_NS || ownNames.has(name) || inherited.has(name)) continue;
      if (method === 'c14n11' && (name === 'id' || name === 'base')) continue;
      inherited.set(name, attr);
    }
  }
  return [...inherited.values()];
}

function isRealProcessingInstruction(node: Node): boolean {
  // xmldom keeps the XML declaration as a processing instruction named "xml"; it is not part of the data model.
  return node.nodeType === NodeType.PROCESSING_INSTRUCTION && node.nodeName !== 'xml';
}

function processingInstruction(node: Node): string {
  if (!isRealProcessingInstruction(node)) return '';
  const data = node.nodeValue ?? '';
  return `<?${node.nodeName}${data ? ` ${data}` : ''}?>`;
}

function compare(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

function escapeText(text: string): string {
  return text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/\r/g, '&#xD;');
}

function escapeAttribute(value: string): string {
  return value
    .replace(/&/g, '&amp;')
    .replace(/</g, '&lt;')
    .replace(/"/g, '&quot;')
    .replace(/\t/g, '&#x9;')
    .replace(/\n/g, '&#xA;')
    .replace(/\r/g, '&#xD;');
}
