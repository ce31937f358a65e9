import type { IExecuteFunctions, INodeProperties } from 'n8n-workflow';
import { NodeOperationError } from 'n8n-workflow';
import type { InvoiceDateType, InvoiceKind, InvoiceQueryFilters, InvoiceSubjectType } from '../../../../../shared';
import { itemLabel } from '../../helpers/items';
import { dateTimeParameter, SUBJECT_TYPE_OPTIONS } from '../../helpers/invoices';

const INVOICE_KINDS: Array<{ name: string; value: InvoiceKind }> = [
  { name: 'Advance Invoice (ZAL)', value: 'Zal' },
  { name: 'Correction (KOR)', value: 'Kor' },
  { name: 'Correction of Advance Invoice (KOR_ZAL)', value: 'KorZal' },
  { name: 'Correction of Settlement Invoice (KOR_ROZ)', value: 'KorRoz' },
  { name: 'Peppol Correction (KOR_PEF)', value: 'KorPef' },
  { name: 'Peppol Invoice (VAT_PEF)', value: 'VatPef' },
  { name: 'Peppol Simplified Invoice (VAT_PEF_SP)', value: 'VatPefSp' },
  { name: 'Settlement Invoice (ROZ)', value: 'Roz' },
  { name: 'Simplified Invoice (UPR)', value: 'Upr' },
  { name: 'VAT Invoice (VAT)', value: 'Vat' },
  { name: 'VAT RR Correction (KOR_VAT_RR)', value: 'KorVatRr' },
  { name: 'VAT RR Invoice (VAT_RR)', value: 'VatRr' },
];

/** Which invoices and when: the fields Search and Download share (`InvoiceQueryFilters` of open-api.json). */
export const FILTER_PROPERTIES: INodeProperties[] = [
  {
    displayName: 'Invoices',
    name: 'subjectType',
    type: 'options',
    default: 'Subject2',
    options: SUBJECT_TYPE_OPTIONS,
    description: "Whose invoices: our company's role on them",
  },
  {
    displayName: 'Date Type',
    name: 'dateType',
    type: 'options',
    default: 'PermanentStorage',
    options: [
      {
        name: 'Stored in KSeF',
        value: 'PermanentStorage',
        description: 'When KSeF stored the invoice for good; new invoices never land before an earlier search (best for regular downloads)',
      },
      { name: 'Received by KSeF', value: 'Invoicing', description: 'When KSeF received the invoice from its sender' },
      { name: 'Issue Date', value: 'Issue', description: 'The date the seller wrote on the invoice (P_1)' },
    ],
    description: "Which date 'From' and 'To' are about, and the order of the results",
  },
  {
    displayName: 'From',
    name: 'from',
    type: 'dateTime',
    default: '={{ $today.minus({ days: 30 }).toISO() }}',
    required: true,
    description: "Start of the period (inclusive). A date without a time zone is read in the workflow's time zone.",
  },
  {
    displayName: 'To',
    name: 'to',
    type: 'dateTime',
    default: '',
    description: 'End of the period; empty means now. Periods longer than KSeF allows (100 days) are searched in parts.',
  },
  {
    displayName: 'Filters',
    name: 'filters',
    type: 'collection',
    placeholder: 'Add Filter',
    default: {},
    options: [
      {
        displayName: 'Amount From',
        name: 'amountFrom',
        type: 'number',
        default: 0,
        typeOptions: { numberPrecision: 2 },
        description: "Lowest amount (of the kind 'Amount Type' says)",
      },
      {
        displayName: 'Amount To',
        name: 'amountTo',
        type: 'number',
        default: 0,
        typeOptions: { numberPrecision: 2 },
        description: "Highest amount (of the kind 'Amount Type' says)",
      },
      {
        displayName: 'Amount Type',
        name: 'amountType',
        type: 'options',
        default: 'Brutto',
        options: [
          { name: 'Gross', value: 'Brutto' },
          { name: 'Net', value: 'Netto' },
          { name: 'VAT', value: 'Vat' },
        ],
        description: "Which amount 'Amount From' and 'Amount To' compare",
      },
      {
        displayName: 'Buyer Identifier',
        name: 'buyerIdentifier',
        type: 'string',
        default: '',
        description: "The buyer's identifier of the kind 'Buyer Identifier Type' says",
      },
      {
        displayName: 'Buyer Identifier Type',
        name: 'buyerIdentifierType',
        type: 'options',
        default: 'Nip',
        options: [
          { name: 'NIP', value: 'Nip' },
          { name: 'EU VAT Number', value: 'VatUe' },
          { name: 'Other', value: 'Other' },
          { name: 'None (Buyer Without Identifier)', value: 'None' },
        ],
        description: "The kind of the buyer's identifier",
      },
      {
        displayName: 'Currencies',
        name: 'currencyCodes',
        type: 'string',
        default: '',
        placeholder: 'e.g. PLN, EUR',
        description: 'ISO 4217 currency codes, separated by commas',
      },
      {
        displayName: 'Form Type',
        name: 'formType',
        type: 'options',
        default: 'FA',
        options: [
          { name: 'FA (Structured VAT Invoice)', value: 'FA' },
          { name: 'FA_RR (VAT RR Invoice)', value: 'FA_RR' },
          { name: 'PEF (Peppol Invoice)', value: 'PEF' },
        ],
      },
      {
        displayName: 'Has Attachment',
        name: 'hasAttachment',
        type: 'boolean',
        default: true,
        description: 'Whether to find only invoices with an attachment (on) or only without (off)',
      },
      {
        displayName: 'Invoice Number',
        name: 'invoiceNumber',
        type: 'string',
        default: '',
        description: "The seller's invoice number (P_2), exactly",
      },
      {
        displayName: 'Invoice Types',
        name: 'invoiceTypes',
        type: 'multiOptions',
        default: [],
        options: INVOICE_KINDS,
      },
      {
        displayName: 'Invoicing Mode',
        name: 'invoicingMode',
        type: 'options',
        default: 'Online',
        options: [
          { name: 'Online', value: 'Online' },
          { name: 'Offline', value: 'Offline' },
        ],
        description: 'Whether the invoice was issued online in KSeF or offline and sent later',
      },
      {
        displayName: 'KSeF Number',
        name: 'ksefNumber',
        type: 'string',
        default: '',
        placeholder: 'e.g. 5265877635-20250826-0100001AF629-AF',
      },
      {
        displayName: 'Only Below KSeF High-Water Mark',
        name: 'restrictToPermanentStorageHwmDate',
        type: 'boolean',
        default: true,
        description:
          "Whether to stop at the moment up to which KSeF's stored set is complete (only with Date Type 'Stored in KSeF'); later invoices may still be arriving",
      },
      {
        displayName: 'Self-Invoicing',
        name: 'isSelfInvoicing',
        type: 'boolean',
        default: true,
        description: 'Whether to find only self-billed invoices (on) or only the others (off)',
      },
      {
        displayName: 'Seller NIP',
        name: 'sellerNip',
        type: 'string',
        default: '',
        placeholder: 'e.g. 5265877635',
      },
    ],
  },
];

/** The engine's names of the filter fields, as the editor labels them (for error messages). */
export const FILTER_FIELD_LABELS: Record<string, string> = withFiltersPrefix({
  subjectType: 'Invoices',
  'dateRange.dateType': 'Date Type',
  'dateRange.from': 'From',
  'dateRange.to': 'To',
  'dateRange.restrictToPermanentStorageHwmDate': 'Only Below KSeF High-Water Mark',
  ksefNumber: 'KSeF Number',
  invoiceNumber: 'Invoice Number',
  'amount.type': 'Amount Type',
  'amount.from': 'Amount From',
  'amount.to': 'Amount To',
  sellerNip: 'Seller NIP',
  'buyerIdentifier.type': 'Buyer Identifier Type',
  'buyerIdentifier.value': 'Buyer Identifier',
  currencyCodes: 'Currencies',
  invoicingMode: 'Invoicing Mode',
  isSelfInvoicing: 'Self-Invoicing',
  formType: 'Form Type',
  invoiceTypes: 'Invoice Types',
  hasAttachment: 'Has Attachment',
});

/** The engine may name a filter with or without its `filters.` parent. */
function withFiltersPrefix(labels: Record<string, string>): Record<string, string> {
  return Object.fromEntries(
    Object.entries(labels).flatMap(([field, label]) => [
      [field, label],
      [`filters.${field}`, label],
    ]),
  );
}

interface FilterCollection {
  amountFrom?: number;
  amountTo?: number;
  amountType?: 'Brutto' | 'Netto' | 'Vat';
  buyerIdentifier?: string;
  buyerIdentifierType?: 'Nip' | 'VatUe' | 'Other' | 'None';
  currencyCodes?: string;
  formType?: InvoiceQueryFilters['formType'];
  hasAttachment?: boolean;
  invoiceNumber?: string;
  invoiceTypes?: InvoiceKind[];
  invoicingMode?: InvoiceQueryFilters['invoicingMode'];
  ksefNumber?: string;
  restrictToPermanentStorageHwmDate?: boolean;
  isSelfInvoicing?: boolean;
  sellerNip?: string;
}

/** The filters of item `i` as the engine takes them; the engine checks them before any request. */
export function filtersFromParameters(this: IExecuteFunctions, i: number): InvoiceQueryFilters {
  const timeZone = this.getTimezone();
  const from = dateTimeParameter(this.getNodeParameter('from', i, ''), timeZone);
  if (!from) {
    throw new NodeOperationError(this.getNode(), `Set 'From': it is empty in ${itemLabel(i)}`, {
      itemIndex: i,
      description: 'The start of the period to search, e.g. {{ $today.minus({ days: 30 }).toISO() }}.',
    });
  }
  const to = dateTimeParameter(this.getNodeParameter('to', i, ''), timeZone);
  const dateType = this.getNodeParameter('dateType', i) as InvoiceDateType;
  const extra = this.getNodeParameter('filters', i, {}) as FilterCollection;
  const text = (value: string | undefined) => value?.trim() || undefined;
  const filters: InvoiceQueryFilters = {
    subjectType: this.getNodeParameter('subjectType', i) as InvoiceSubjectType,
    dateRange: {
      dateType,
      from,
      ...(to && { to }),
      ...(extra.restrictToPermanentStorageHwmDate !== undefined && {
        restrictToPermanentStorageHwmDate: extra.restrictToPermanentStorageHwmDate,
      }),
    },
  };
  if (text(extra.ksefNumber)) filters.ksefNumber = text(extra.ksefNumber);
  if (text(extra.invoiceNumber)) filters.invoiceNumber = text(extra.invoiceNumber);
  if (text(extra.sellerNip)) filters.sellerNip = text(extra.sellerNip);
  if (extra.amountType !== undefined || extra.amountFrom !== undefined || extra.amountTo !== undefined) {
    filters.amount = {
      type: extra.amountType ?? 'Brutto',
      ...(extra.amountFrom !== undefined && { from: extra.amountFrom }),
      ...(extra.amountTo !== undefined && { to: extra.amountTo }),
    };
  }
  if (extra.buyerIdentifierType !== undefined || text(extra.buyerIdentifier)) {
    filters.buyerIdentifier = {
      type: extra.buyerIdentifierType ?? 'Nip',
      ...(text(extra.buyerIdentifier) && { value: text(extra.buyerIdentifier) }),
    };
  }
  const currencies = (extra.currencyCodes ?? '')
    .split(/[\s,;]+/)
    .map((code) => code.toUpperCase())
    .filter(Boolean);
  if (currencies.length > 0) filters.currencyCodes = currencies;
  if (extra.invoicingMode) filters.invoicingMode = extra.invoicingMode;
  if (extra.isSelfInvoicing !== undefined) filters.isSelfInvoicing = extra.isSelfInvoicing;
  if (extra.formType) filters.formType = extra.formType;
  if (extra.invoiceTypes?.length) filters.invoiceTypes = extra.invoiceTypes;
  if (extra.hasAttachment !== undefined) filters.hasAttachment = extra.hasAttachment;
  return filters;
}
