/** The invoice schemas KSeF accepts, as `formCode` of a session (open-api.json `OpenOnlineSessionRequest.formCode`, CIRFMF/ksef-api). */
export interface FormCode {
  systemCode: string;
  schemaVersion: string;
  value: string;
}

export type InvoiceSchema = 'FA(3)' | 'FA(2)' | 'FA_RR(1)' | 'PEF(3)' | 'PEF_KOR(3)';

export interface InvoiceSchemaInfo {
  formCode: FormCode;
  /** Root element namespace of invoices of this schema. */
  namespace: string;
  /** Path of the XSD inside the official ksef-docs folder. */
  xsdPath: string;
  /** Name used in UPO `NazwaStrukturyLogicznej`. */
  logicalStructureName: string;
  batch: boolean;
}

export const INVOICE_SCHEMAS: Record<InvoiceSchema, InvoiceSchemaInfo> = {
  'FA(3)': {
    formCode: { systemCode: 'FA (3)', schemaVersion: '1-0E', value: 'FA' },
    namespace: 'http://crd.gov.pl/wzor/2025/06/25/13775/',
    xsdPath: 'faktury/schemy/FA/schemat_FA(3)_v1-0E.xsd',
    logicalStructureName: 'Schemat_FA(3)_v1-0E.xsd',
    batch: true,
  },
  'FA(2)': {
    formCode: { systemCode: 'FA (2)', schemaVersion: '1-0E', value: 'FA' },
    namespace: 'http://crd.gov.pl/wzor/2023/06/29/12648/',
    xsdPath: 'faktury/schemy/FA/schemat_FA(2)_v1-0E.xsd',
    logicalStructureName: 'Schemat_FA(2)_v1-0E.xsd',
    batch: true,
  },
  'FA_RR(1)': {
    formCode: { systemCode: 'FA_RR (1)', schemaVersion: '1-1E', value: 'FA_RR' },
    namespace: 'http://crd.gov.pl/wzor/2026/03/06/14189/',
    xsdPath: 'faktury/schemy/RR/schemat_FA_RR(1)_v1-1E.xsd',
    logicalStructureName: 'Schemat_FA_RR(1)_v1-1E.xsd',
    batch: true,
  },
  'PEF(3)': {
    formCode: { systemCode: 'PEF (3)', schemaVersion: '2-1', value: 'PEF' },
    namespace: 'urn:oasis:names:specification:ubl:schema:xsd:Invoice-2',
    xsdPath: 'faktury/schemy/PEF/Schemat_PEF(3)_v2-1.xsd',
    logicalStructureName: 'Schemat_PEF(3)_v2-1.xsd',
    batch: false,
  },
  'PEF_KOR(3)': {
    formCode: { systemCode: 'PEF_KOR (3)', schemaVersion: '2-1', value: 'PEF' },
    namespace: 'urn:oasis:names:specification:ubl:schema:xsd:CreditNote-2',
    xsdPath: 'faktury/schemy/PEF/Schemat_PEF_KOR(3)_v2-1.xsd',
    logicalStructureName: 'Schemat_PEF_KOR(3)_v2-1.xsd',
    batch: false,
  },
};

export function schemaForFormCode(formCode: FormCode): InvoiceSchema | undefined {
  return (Object.keys(INVOICE_SCHEMAS) as InvoiceSchema[]).find((name) => {
    const known = INVOICE_SCHEMAS[name].formCode;
    return known.systemCode === formCode.systemCode && known.schemaVersion === formCode.schemaVersion && known.value === formCode.value;
  });
}
