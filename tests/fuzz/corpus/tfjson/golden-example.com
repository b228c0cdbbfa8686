example.com
--
{
  "resource": {
    "aws_route53_record": {
      "db-01_example_com_A": {
        "name": "db-01.example.com",
        "records": [
          "10.0.2.10"
        ],
        "ttl": 300,
        "type": "A",
        "zone_id": "Z0123456789ABC"
      },
      "db-02_example_com_A": {
        "name": "db-02.example.com",
        "records": [
          "10.0.2.11"
        ],
        "ttl": 300,
        "type": "A",
        "zone_id": "Z0123456789ABC"
      },
      "docs_example_com_CNAME": {
        "name": "docs.example.com",
        "records": [
          "web-01.example.com."
        ],
        "ttl": 300,
        "type": "CNAME",
        "zone_id": "Z0123456789ABC"
      },
      "example_com_MX": {
        "name": "example.com",
        "records": [
          "10 mx1.example.com.",
          "20 mx2.example.com."
        ],
        "ttl": 300,
        "type": "MX",
        "zone_id": "Z0123456789ABC"
      },
      "example_com_TXT": {
        "name": "example.com",
        "records": [
          "\"v=spf1 mx -all\""
        ],
        "ttl": 300,
        "type": "TXT",
        "zone_id": "Z0123456789ABC"
      },
      "lb-01_example_com_A": {
        "name": "lb-01.example.com",
        "records": [
          "10.0.0.10"
        ],
        "ttl": 300,
        "type": "A",
        "zone_id": "Z0123456789ABC"
      },
      "lb_example_com_A": {
        "name": "lb.example.com",
        "records": [
          "10.0.0.10"
        ],
        "ttl": 300,
        "type": "A",
        "zone_id": "Z0123456789ABC"
      },
      "mail_example_com_A": {
        "name": "mail.example.com",
        "records": [
          "10.0.3.25"
        ],
        "ttl": 3600,
        "type": "A",
        "zone_id": "Z0123456789ABC"
      },
      "web-01_example_com_A": {
        "name": "web-01.example.com",
        "records": [
          "10.0.1.5"
        ],
        "ttl": 300,
        "type": "A",
        "zone_id": "Z0123456789ABC"
      },
      "web-02_example_com_A": {
        "name": "web-02.example.com",
        "records": [
          "10.0.1.6"
        ],
        "ttl": 300,
        "type": "A",
        "zone_id": "Z0123456789ABC"
      },
      "web-03_example_com_A": {
        "name": "web-03.example.com",
        "records": [
          "10.0.1.7"
        ],
        "ttl": 300,
        "type": "A",
        "zone_id": "Z0123456789ABC"
      },
      "www_example_com_A": {
        "name": "www.example.com",
        "records": [
          "10.0.1.5",
          "10.0.1.6"
        ],
        "ttl": 300,
        "type": "A",
        "zone_id": "Z0123456789ABC"
      }
    }
  }
}
