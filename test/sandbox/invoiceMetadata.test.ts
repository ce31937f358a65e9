import { readInvoiceJson } from '../../shared/protocol/xml/invoiceJson';
import { summaryOfFriendly } from '../../sandbox/invoices/metadata';

const invoiceWithThirdParties = (podmiot3: string): string => `<?xml version="1.0" encoding="UTF-8"?>
<Faktura xmlns="http://crd.gov.pl/wzor/2025/06/25/13775/">
  <Naglowek><KodFormularza kodSystemowy="FA (3)" wersjaSchemy="1-0E">FA</KodFormularza><WariantFormularza>3</WariantFormularza></Naglowek>
  <Podmiot1><DaneIdentyfikacyjne><NIP>1234563218</NIP><Nazwa>Seller</Nazwa></DaneIdentyfikacyjne></Podmiot1>
  <Podmiot2><DaneIdentyfikacyjne><NIP>5265877635</NIP><Nazwa>Buyer</Nazwa></DaneIdentyfikacyjne></Podmiot2>
  ${podmiot3}
  <Fa><KodWaluty>PLN</KodWaluty><P_1>2026-11-30</P_1><P_2>FV/1</P_2><P_13_1>100.00</P_13_1><P_14_1>23.00</P_14_1><P_15>123.00</P_15><RodzajFaktury>VAT</RodzajFaktury></Fa>
</Faktura>`;

describe('invoice metadata of third parties (InvoiceMetadata.thirdSubjects, open-api.json)', () => {
  it('names a Podmiot3 by its internal identifier (IDWew) as InternalId, and by NrID as Other', () => {
    const xml = invoiceWithThirdParties(
      '<Podmiot3><DaneIdentyfikacyjne><IDWew>5265877635-00001</IDWew><Nazwa>Branch</Nazwa></DaneIdentyfikacyjne><Rola>2</Rola></Podmiot3>' +
        '<Podmiot3><DaneIdentyfikacyjne><KodKraju>DE</KodKraju><NrID>X-77</NrID><Nazwa>Factor</Nazwa></DaneIdentyfikacyjne><Rola>1</Rola></Podmiot3>',
    );
    const { thirdSubjects } = summaryOfFriendly(readInvoiceJson(xml));
    expect(thirdSubjects).toEqual([
      expect.objectContaining({ identifier: { type: 'InternalId', value: '5265877635-00001' }, role: 2 }),
      expect.objectContaining({ identifier: { type: 'Other', value: 'X-77' }, role: 1 }),
    ]);
  });
});
