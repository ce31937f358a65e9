/**
 * Strict XML parsing for signed documents, on @xmldom/xmldom. DOCTYPEs are refused: entity expansion could make
 * what is signed differ from what is read, and they open the door to entity bombs.
 */
import { DOMParser, type Document, type Element, type Node } from '@xmldom/xmldom';

export const NodeType = {
  ELEMENT: 1,
  TEXT: 3,
  CDATA_SECTION: 4,
  PROCESSING_INSTRUCTION: 7,
  COMMENT: 8,
  DOCUMENT: 9,
  DOCUMENT_TYPE: 10,
} as const;

export class XmlParseError extends Error {}

/** Parses `xml`; throws `XmlParseError` (message from the parser, no document content) on any error or warning. */
export function parseXml(xml: string): Document {
  const parser = new DOMParser({
    locator: true,
    // XML 1.0 line-end handling only: xmldom's default also rewrites U+2028/U+0085 (XML 1.1), which would change signed text.
    normalizeLineEndings: (source: string) => source.replace(/\r\n?/g, '\n'),
    onError: (level, message) => {
      throw new XmlParseError(`${level}: ${message}`);
    },
  });
  let document: Document;
  try {
    document = parser.parseFromString(xml, 'application/xml');
  } catch (error) {
    throw error instanceof XmlParseError ? error : new XmlParseError((error as Error).message);
  }
  if (Array.from(document.childNodes).some((node) => node.nodeType === NodeType.DOCUMENT_TYPE)) {
    throw new XmlParseError('DOCTYPE declarations are not allowed');
  }
  if (!document.documentElement) throw new XmlParseError('the document has no root element');
  return document;
}

export function isElement(node: Node | null | undefined): node is Element {
  return !!node && node.nodeType === NodeType.ELEMENT;
}

export function childElements(parent: Node): Element[] {
  return Array.from(parent.childNodes).filter(isElement);
}

/** Child elements of `parent` with this namespace and local name. */
export function childrenNamed(parent: Node, namespace: string, localName: string): Element[] {
  return childElements(parent).filter((e) => e.namespaceURI === namespace && e.localName === localName);
}

/** Every element below `root` (document order, `root` included when it is an element). */
export function descendantElements(root: Node): Element[] {
  const found: Element[] = [];
  const visit = (node: Node): void => {
    if (isElement(node)) found.push(node);
    for (const child of Array.from(node.childNodes)) visit(child);
  };
  visit(root);
  return found;
}

/** Concatenated text content of an element, without surrounding whitespace. */
export function textOf(element: Element): string {
  return (element.textContent ?? '').trim();
}
