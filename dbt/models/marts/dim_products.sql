-- Current product attributes plus the number of recorded price changes.
with products as (
    select * from {{ ref('stg_products__products') }}
),

price_versions as (
    select
        product_id,
        count(*) - 1 as price_changes
    from {{ ref('products_snapshot') }}
    group by product_id
)

select
    products.product_id,
    products.product_name,
    products.category,
    products.unit_price,
    products.updated_at,
    coalesce(price_versions.price_changes, 0) as price_changes
from products
left join price_versions on price_versions.product_id = products.product_id
