import type { ICredentialType, INodeProperties } from 'n8n-workflow';

/**
 * Connection to KSeF with a KSeF token or a certificate (XAdES signature). It is tested by the KSeF node's
 * `ksefApiTest`, which really authenticates with either method.
 */
export class KsefApi implements ICredentialType {
  name = 'ksefApi';

  displayName = 'KSeF API';

  icon = 'file:../nodes/n8n/Ksef/ksef.svg' as const;

  documentationUrl = 'https://github.com/ksef-flow/n8n-nodes-ksef#install-into-n8n-self-hosted';

  properties: INodeProperties[] = [
    {
      displayName: 'Environment',
      name: 'environment',
      type: 'options',
      default: 'sandbox',
      options: [
        {
          name: 'Sandbox (Embedded)',
          value: 'sandbox',
          description: 'A local KSeF simulator started inside n8n. Nothing leaves this machine; good for trying workflows.',
        },
        { name: 'Test', value: 'test', description: "The Ministry of Finance's test environment (fake data)" },
        { name: 'Demo', value: 'demo', description: 'The pre-production environment (real company data, no legal effect)' },
        { name: 'Production', value: 'production', description: 'Live KSeF: invoices sent here are legally issued' },
        { name: 'Custom', value: 'custom', description: 'Any KSeF 2.0 compatible API at the base URL below' },
      ],
      description: 'Which KSeF to talk to. Sandbox needs no account.',
    },
    {
      displayName: 'Demo: Received Invoices to Seed',
      name: 'sandboxSeedReceived',
      type: 'number',
      default: 0,
      typeOptions: { minValue: 0, maxValue: 1000 },
      displayOptions: { show: { environment: ['sandbox'] } },
      description:
        'How many invoices from other sellers the embedded sandbox preloads for the demo company, spread over the 30 days before it starts, so the KSeF Trigger and Invoice > Search have something to find. Taken when the sandbox starts: the first KSeF call after n8n starts.',
    },
    {
      displayName: 'Base URL',
      name: 'baseUrl',
      type: 'string',
      default: '',
      placeholder: 'e.g. https://ksef.example.com/v2',
      required: true,
      displayOptions: { show: { environment: ['custom'] } },
      description: 'Root of the KSeF 2.0 API, including the version path (usually ends with /v2)',
    },
    {
      displayName: 'Context Identifier Type',
      name: 'contextIdentifierType',
      type: 'options',
      default: 'Nip',
      options: [
        { name: 'NIP', value: 'Nip', description: 'Polish tax identification number (10 digits)' },
        { name: 'Internal ID', value: 'InternalId', description: 'Internal identifier: NIP-5 digits' },
        { name: 'NIP VAT UE', value: 'NipVatUe', description: 'Composite identifier: NIP-EU VAT number' },
        { name: 'Peppol ID', value: 'PeppolId', description: 'Identifier of a Peppol service provider' },
      ],
      description: 'Kind of identifier of the company (context) you act for in KSeF',
    },
    {
      displayName: 'Context Identifier',
      name: 'contextIdentifierValue',
      type: 'string',
      default: '',
      placeholder: 'e.g. 1234563218',
      hint: 'On Sandbox leave it empty: the sandbox demo company (NIP 1234563218) is used',
      description: 'The identifier of the company you act for, e.g. its NIP',
    },
    {
      displayName: 'Authentication Method',
      name: 'authenticationMethod',
      type: 'options',
      default: 'ksefToken',
      options: [
        { name: 'KSeF Token', value: 'ksefToken', description: 'A KSeF token generated for this context' },
        {
          name: 'Certificate',
          value: 'certificate',
          description:
            'A qualified signature or seal, a KSeF certificate, or (Sandbox and Test only) a self-signed test certificate. Enrolling KSeF certificates requires it.',
        },
      ],
      description: 'How n8n proves to KSeF who it acts as',
    },
    {
      displayName:
        "Managing KSeF certificates (the node's Certificate operations) needs the Certificate method; a KSeF token can send invoices and manage tokens.",
      name: 'certificateNotice',
      type: 'notice',
      default: '',
      displayOptions: { show: { authenticationMethod: ['ksefToken'] } },
    },
    {
      displayName: 'KSeF Token',
      name: 'ksefToken',
      type: 'string',
      typeOptions: { password: true },
      default: '',
      displayOptions: { show: { authenticationMethod: ['ksefToken'] } },
      hint: 'On Sandbox leave it empty: the sandbox demo token is used',
      description:
        "A KSeF token generated in KSeF for this context (Aplikacja Podatnika KSeF or the API). It needs the 'InvoiceWrite' permission to send invoices.",
    },
    {
      displayName: 'Certificate Format',
      name: 'certificateFormat',
      type: 'options',
      default: 'pkcs12',
      displayOptions: { show: { authenticationMethod: ['certificate'] } },
      options: [
        { name: 'PKCS#12 (.P12/.PFX)', value: 'pkcs12', description: 'Certificate and private key in one password-protected file' },
        { name: 'PEM', value: 'pem', description: 'Certificate and private key as PEM text' },
      ],
      description: 'How the certificate and its private key are given',
    },
    {
      displayName: 'PKCS#12 File (Base64)',
      name: 'pkcs12',
      type: 'string',
      typeOptions: { password: true },
      default: '',
      required: true,
      displayOptions: { show: { authenticationMethod: ['certificate'], certificateFormat: ['pkcs12'] } },
      description:
        "The .p12/.pfx file as Base64 text, e.g. the output of 'base64 -w0 certificate.p12', or of the Extract From File node (Move File to Base64 String)",
    },
    {
      displayName: 'PKCS#12 Password',
      name: 'pkcs12Password',
      type: 'string',
      typeOptions: { password: true },
      default: '',
      displayOptions: { show: { authenticationMethod: ['certificate'], certificateFormat: ['pkcs12'] } },
      description: 'The password that opens the PKCS#12 file',
    },
    {
      displayName: 'Certificate (PEM)',
      name: 'certificatePem',
      type: 'string',
      typeOptions: { rows: 4 },
      default: '',
      required: true,
      placeholder: '-----BEGIN CERTIFICATE-----',
      displayOptions: { show: { authenticationMethod: ['certificate'], certificateFormat: ['pem'] } },
      description: 'The certificate as PEM text, including the BEGIN and END lines',
    },
    {
      displayName: 'Private Key (PEM)',
      name: 'privateKeyPem',
      type: 'string',
      typeOptions: { password: true },
      default: '',
      required: true,
      placeholder: '-----BEGIN PRIVATE KEY-----',
      displayOptions: { show: { authenticationMethod: ['certificate'], certificateFormat: ['pem'] } },
      description: 'The private key of the certificate as PEM text (PKCS#8, PKCS#1 RSA, SEC1 EC, or encrypted PKCS#8)',
    },
    {
      displayName: 'Private Key Passphrase',
      name: 'privateKeyPassphrase',
      type: 'string',
      typeOptions: { password: true },
      default: '',
      displayOptions: { show: { authenticationMethod: ['certificate'], certificateFormat: ['pem'] } },
      description: 'Decrypts the private key when it is encrypted; leave empty otherwise',
    },
    {
      displayName: 'Advanced Settings',
      name: 'advancedSettings',
      type: 'boolean',
      default: false,
      displayOptions: { show: { authenticationMethod: ['certificate'] } },
      description:
        'Whether to show the rarely needed certificate settings: subject identifier type, allowed IP addresses and the authentication request schema. The defaults suit qualified certificates, seals and KSeF certificates.',
    },
    {
      displayName: 'Subject Identifier Type',
      name: 'subjectIdentifierType',
      type: 'options',
      default: 'certificateSubject',
      displayOptions: { show: { authenticationMethod: ['certificate'], advancedSettings: [true] } },
      options: [
        {
          name: 'Certificate Subject',
          value: 'certificateSubject',
          description: "KSeF identifies you by the certificate's NIP, PESEL or VAT number (usual for qualified certificates and seals)",
        },
        {
          name: 'Certificate Fingerprint',
          value: 'certificateFingerprint',
          description: "KSeF identifies you by the certificate's SHA-256 fingerprint (for certificates without a Polish identifier)",
        },
      ],
      description: 'How KSeF identifies the signer of the authentication request',
    },
    {
      displayName: 'Allowed IP Addresses',
      name: 'allowedIps',
      type: 'string',
      default: '',
      placeholder: 'e.g. 203.0.113.7, 203.0.113.0/24, 198.51.100.1-198.51.100.99',
      displayOptions: { show: { authenticationMethod: ['certificate'], advancedSettings: [true] } },
      description:
        'Optional. Only these IPv4 addresses may use the tokens of this authentication: addresses, ranges (first-last) and masks (address/bits), separated by commas, at most 10 of each kind. KSeF refuses requests from anywhere else. Leave empty for no restriction.',
    },
    {
      displayName: 'Also Allow the Current IP',
      name: 'allowCurrentIp',
      type: 'boolean',
      default: false,
      displayOptions: { show: { authenticationMethod: ['certificate'], advancedSettings: [true] } },
      description:
        'Whether to add the IPv4 address KSeF sees this n8n at (when authenticating) to the allowed addresses. Turning it on restricts the tokens to that address even when the list above is empty.',
    },
    {
      displayName: 'Authentication Request Schema',
      name: 'authTokenRequestSchema',
      type: 'options',
      default: '2.0',
      displayOptions: { show: { authenticationMethod: ['certificate'], advancedSettings: [true] } },
      options: [
        { name: '2.0', value: '2.0', description: 'What the official KSeF clients send' },
        { name: '2.1', value: '2.1', description: 'The newer schema; differs only in its IP address rules' },
      ],
      description: 'Version of the signed AuthTokenRequest document. Keep 2.0 unless KSeF asks for 2.1.',
    },
  ];
}
