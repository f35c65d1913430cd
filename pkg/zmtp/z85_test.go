package zmtp

import (
	"bytes"
	"encoding/hex"
	"testing"
)

// RFC 32 §"Test Case" and the CURVE test keys of zmq_curve(7).
func TestZ85Vectors(t *testing.T) {
	for _, tc := range []struct {
		bin string // hex
		z85 string
	}{
		{"864fd26fb559f75b", "HelloWorld"},
		// zmq_curve(7) client and server test key pairs.
		{"bb88471d65e2659b30c55a5321cebb5aab2b70a398645c26dca2b2fcb43fc518", "Yne@$w-vo<fVvi]a<NY6T1ed:M$fCG*[IaLV{hID"},
		{"7bb864b489afa3671fbe69101f94b38972f24816dfb01b51656b3fec8dfd0888", "D:)Q[IlAW!ahhC2ac:9*A}h:p?([4%wOTJ%JR%cs"},
		{"54fcba24e93249969316fb617c872bb0c1d1ff14800427c594cbfacf1bc2d652", "rq:rM>}U?@Lns47E1%kR.o@n%FcmmsL/@{H8]yf7"},
		{"8e0bdd697628b91d8f245587ee95c5b04d48963f79259877b49cd9063aead3b7", "JTKVSB%%)wK0E.X)V>+}o?pNmC{O&4W4b!Ni{Lh6"},
		{"", ""},
	} {
		bin, _ := hex.DecodeString(tc.bin)
		got, err := Z85Encode(bin)
		if err != nil || got != tc.z85 {
			t.Errorf("Z85Encode(%s) = %q, %v; want %q", tc.bin, got, err, tc.z85)
		}
		back, err := Z85Decode(tc.z85)
		if err != nil || !bytes.Equal(back, bin) {
			t.Errorf("Z85Decode(%q) = %x, %v; want %s", tc.z85, back, err, tc.bin)
		}
	}
}

// The zmq_curve(7) test secret keys derive the test public keys.
func TestCurveTestKeyPairs(t *testing.T) {
	for _, tc := range []struct{ pub, sec string }{
		{"Yne@$w-vo<fVvi]a<NY6T1ed:M$fCG*[IaLV{hID", "D:)Q[IlAW!ahhC2ac:9*A}h:p?([4%wOTJ%JR%cs"},
		{"rq:rM>}U?@Lns47E1%kR.o@n%FcmmsL/@{H8]yf7", "JTKVSB%%)wK0E.X)V>+}o?pNmC{O&4W4b!Ni{Lh6"},
	} {
		sec, err := ParseCurveSecretKey(tc.sec)
		if err != nil {
			t.Fatal(err)
		}
		pub, err := sec.Public()
		if err != nil || pub.String() != tc.pub {
			t.Fatalf("public of test key = %v, %v; want %s", pub, err, tc.pub)
		}
	}
}

func TestZ85Errors(t *testing.T) {
	for _, s := range []string{"abcd", "abcd\"", "%%%%%", "~~~~~"} {
		if _, err := Z85Decode(s); err == nil {
			t.Errorf("Z85Decode(%q) accepted", s)
		}
	}
	if _, err := Z85Encode([]byte{1, 2, 3}); err == nil {
		t.Error("Z85Encode of 3 octets accepted")
	}
}
