//! Polar.sh scopes, typed, with pass-through for the ones this version does not know.

use std::fmt;
use std::str::FromStr;

macro_rules! scopes {
    ($($variant:ident => $wire:literal,)*) => {
        /// A Polar.sh OAuth scope. The list grows on Polar's side: scopes this crate does not
        /// know yet travel as [`Scope::Other`], unchanged.
        ///
        /// ```
        /// use grantkit_polar_sh::Scope;
        /// assert_eq!(Scope::ProductsRead.as_str(), "products:read");
        /// assert_eq!("orders:write".parse::<Scope>().unwrap(), Scope::OrdersWrite);
        /// assert_eq!("brand_new:read".parse::<Scope>().unwrap(), Scope::Other("brand_new:read".into()));
        /// ```
        #[derive(Clone, Debug, PartialEq, Eq, Hash)]
        #[non_exhaustive]
        pub enum Scope {
            $(
                #[doc = concat!("`", $wire, "`")]
                $variant,
            )*
            /// A scope this version does not name.
            Other(String),
        }

        impl Scope {
            /// Every scope this version knows, in Polar's documented order.
            pub const ALL: &'static [Scope] = &[$(Scope::$variant,)*];

            /// The wire name.
            pub fn as_str(&self) -> &str {
                match self {
                    $(Scope::$variant => $wire,)*
                    Scope::Other(s) => s,
                }
            }
        }

        impl FromStr for Scope {
            type Err = std::convert::Infallible;

            fn from_str(s: &str) -> Result<Self, Self::Err> {
                Ok(match s {
                    $($wire => Scope::$variant,)*
                    other => Scope::Other(other.to_owned()),
                })
            }
        }
    };
}

scopes! {
    OpenId => "openid",
    Profile => "profile",
    Email => "email",
    UserRead => "user:read",
    UserWrite => "user:write",
    OrganizationsRead => "organizations:read",
    OrganizationsWrite => "organizations:write",
    CustomFieldsRead => "custom_fields:read",
    CustomFieldsWrite => "custom_fields:write",
    DiscountsRead => "discounts:read",
    DiscountsWrite => "discounts:write",
    CheckoutLinksRead => "checkout_links:read",
    CheckoutLinksWrite => "checkout_links:write",
    CheckoutsRead => "checkouts:read",
    CheckoutsWrite => "checkouts:write",
    TransactionsRead => "transactions:read",
    TransactionsWrite => "transactions:write",
    PayoutsRead => "payouts:read",
    PayoutsWrite => "payouts:write",
    ProductsRead => "products:read",
    ProductsWrite => "products:write",
    BenefitsRead => "benefits:read",
    BenefitsWrite => "benefits:write",
    EventsRead => "events:read",
    EventsWrite => "events:write",
    MetersRead => "meters:read",
    MetersWrite => "meters:write",
    FilesRead => "files:read",
    FilesWrite => "files:write",
    SubscriptionsRead => "subscriptions:read",
    SubscriptionsWrite => "subscriptions:write",
    CustomersRead => "customers:read",
    CustomersWrite => "customers:write",
    MembersRead => "members:read",
    MembersWrite => "members:write",
    WalletsRead => "wallets:read",
    WalletsWrite => "wallets:write",
    DisputesRead => "disputes:read",
    DisputesWrite => "disputes:write",
    OrdersRead => "orders:read",
    OrdersWrite => "orders:write",
    RefundsRead => "refunds:read",
    RefundsWrite => "refunds:write",
    LicenseKeysRead => "license_keys:read",
    LicenseKeysWrite => "license_keys:write",
    WebhooksRead => "webhooks:read",
    WebhooksWrite => "webhooks:write",
    MetricsRead => "metrics:read",
    MetricsWrite => "metrics:write",
    CustomerPortalRead => "customer_portal:read",
    CustomerPortalWrite => "customer_portal:write",
    NotificationsRead => "notifications:read",
    NotificationsWrite => "notifications:write",
    NotificationRecipientsRead => "notification_recipients:read",
    NotificationRecipientsWrite => "notification_recipients:write",
    CustomerSeatsRead => "customer_seats:read",
    CustomerSeatsWrite => "customer_seats:write",
    PaymentsRead => "payments:read",
    CustomerMetersRead => "customer_meters:read",
    CustomerSessionsWrite => "customer_sessions:write",
    MemberSessionsWrite => "member_sessions:write",
}

impl fmt::Display for Scope {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl From<Scope> for String {
    fn from(scope: Scope) -> String {
        scope.as_str().to_owned()
    }
}

/// Joins scopes into the space-separated wire form.
pub fn join(scopes: &[Scope]) -> String {
    scopes
        .iter()
        .map(Scope::as_str)
        .collect::<Vec<_>>()
        .join(" ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_known_scope_round_trips() {
        assert_eq!(Scope::ALL.len(), 61);
        for scope in Scope::ALL {
            assert_eq!(&scope.as_str().parse::<Scope>().unwrap(), scope);
        }
    }
}
